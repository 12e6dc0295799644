"""What a run collects: the run's settings made at configure time, node ids, and the units' collector."""
from __future__ import annotations

import contextlib
import os
import sys

import pytest

from .. import options
from ..core import interrupts
from ..core.errors import RefsuiteError
from ..settings import NODE_ROOT, RunSettings
from .items import BrokenProviderItem, UnitItem
from .report import Reporter
from .state import BUDGET, STATE, RunState


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Nothing global changes here (hypothesis's settings, fixtures, files) unless units are run:
    # a session that asks nothing of refsuite runs exactly as it would without it.
    named = _take_node_ids(config)
    _plan_budget(config, named)
    if not _units_enabled(config, named):
        return
    config.addinivalue_line("markers", "slow: long-running unit; runs only with --runslow")
    # before discovery: a KeyboardInterrupt that a plugin raises on import is then told from Ctrl-C
    owns_interrupts = interrupts.install()
    try:
        settings = _settings(config, named)
    except BaseException:
        if owns_interrupts:
            interrupts.uninstall()
        raise
    state = config.stash[STATE] = RunState(settings, report=_past_capture(config), owns_interrupts=owns_interrupts)
    config.pluginmanager.register(Reporter(state, config), "refsuite-reporter")
    # a rank of a torchrun launch joins the process group and reports to rank 0 (a no-op elsewhere)
    config.pluginmanager.import_plugin("refsuite.pytest_plugin.ranks")


def _take_node_ids(config: pytest.Config) -> list[str]:
    """The units named by node id among pytest's arguments, taken out of them: they name no file."""
    prefix = NODE_ROOT + "::"
    named = [arg for arg in config.args if arg.startswith(prefix)]
    if named:
        config.args[:] = [arg for arg in config.args if not arg.startswith(prefix)]
    return [arg.removeprefix(prefix) for arg in named]


def _units_enabled(config: pytest.Config, named: list[str]) -> bool:
    if config.getoption("no_units"):
        if named:
            raise pytest.UsageError(f"refsuite: --no-units, yet {NODE_ROOT}::{named[0]} names a unit")
        return False
    if config.getoption("units") or named or any(config.getoption(o.dest) for o in options.RUN):
        return True
    named_paths = config.args_source == pytest.Config.ArgsSource.ARGS
    return bool(config.getini("refsuite_units")) and not named_paths


def _settings(config: pytest.Config, named: list[str]) -> RunSettings:
    """The run's settings from pytest's options, checked: a bad one is a usage error, and a plugin
    that exits while they are made is named."""
    from ..core.discovery import discover
    from ..settings import build

    plugins = discover()
    try:
        return build(options.values(config.getoption), plugins, node_ids=named, keyword=config.getoption("keyword"),
                     junitxml=config.getoption("xmlpath", None), seed=config.getoption("hypothesis_seed", None),
                     budget=config.stash.get(BUDGET, None))
    except RefsuiteError as exc:
        raise pytest.UsageError(f"refsuite: {exc}") from None
    except SystemExit as exc:  # a plugin's hook (a device's count, a dataset's check) called sys.exit()
        pytest.exit(f"refsuite: {plugins.culprit(exc)} called sys.exit({exc.code!r}) while the run was set up",
                    returncode=1)


def _past_capture(config: pytest.Config):
    """A line to the terminal now, even from inside a test (a unit waiting on the dataset lock)."""

    def report(line: str) -> None:
        capman = config.pluginmanager.getplugin("capturemanager")
        with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
            print(line, file=sys.stderr, flush=True)

    return report


def _plan_budget(config: pytest.Config, named: list[str]) -> None:
    """This process's share of the machine (threads, device), where refsuite runs the show: units
    collected, a project that set ``refsuite_units``, or threads the user chose."""
    from ..core import budgets

    threads = config.getoption("torch_threads")
    if not (threads or os.environ.get(budgets.THREADS_ENV) or _units_enabled(config, named)
            or config.getini("refsuite_units")):
        return
    if hasattr(config, "workerinput"):  # an xdist worker
        workers, worker = config.workerinput["workercount"], budgets.worker_number(config.workerinput["workerid"])
    else:  # the xdist controller (its workers are config.option.tx by now), or a run that is not parallel
        workers, worker = len(config.getoption("tx", None) or []) if config.getoption("dist", "no") != "no" else 0, None
    try:
        config.stash[BUDGET] = budgets.from_environment(
            workers=workers, worker=worker, threads=threads, devices=config.getoption("worker_devices"))
    except RefsuiteError as exc:
        raise pytest.UsageError(f"refsuite: {exc}") from None


def pytest_sessionstart(session: pytest.Session) -> None:
    budget = session.config.stash.get(BUDGET, None)
    if budget is not None:
        from ..core.budgets import apply

        state = session.config.stash.get(STATE, None)
        apply(budget, list(state.settings.devices) if state else [])


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None and state.owns_interrupts:
        interrupts.uninstall()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    state = config.stash.get(STATE, None)
    if state is None or state.settings.reproduce is None:
        return
    # after -k and node ids chose: one blob replays one unit's example
    chosen = sorted({item.name for item in items if isinstance(item, UnitItem)})
    if len(chosen) != 1:
        raise pytest.UsageError(f"refsuite: --reproduce replays one unit's example, and {len(chosen)} units are "
                                "selected; name the unit with -k as the replay line does")


class UnitCollector(pytest.Collector):
    """The registered units on the run's devices, and one failing item per provider that failed to load."""

    def collect(self):
        settings = self.config.stash[STATE].settings
        for provider in settings.plugins.failures:
            name = f"refsuite-plugin[{provider.group}:{provider.name}]"
            yield BrokenProviderItem.from_parent(self, name=name, nodeid=f"{NODE_ROOT}::{name}", provider=provider)
        for unit in settings.plugins.units:
            for device in settings.devices:
                name = f"{unit.id}[{device.label}]"
                if settings.chosen is None or name in settings.chosen:
                    # spelled out: pytest parses a node id's [...] as parameters, as for --lf's ids
                    yield UnitItem.from_parent(self, name=name, nodeid=f"{NODE_ROOT}::{name}", unit=unit, device=device)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    # The units stand beside the session's test files and directories, ahead of them.
    if isinstance(collector, pytest.Session) and report.passed and collector.config.stash.get(STATE, None):
        report.result.insert(0, UnitCollector.from_parent(collector, name=NODE_ROOT, nodeid=NODE_ROOT))
    return report
