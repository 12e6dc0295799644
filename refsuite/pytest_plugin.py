"""pytest plugin (registered through ``pytest11``): every unit × device becomes a test item.

Units are collected when ``--device`` or ``--units`` is given, or when the ini option
``refsuite_units`` is true and no explicit test paths were named, so installing refsuite
does not add items to other projects' test runs.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from . import options
from ._version import __version__
from .core.errors import RefsuiteError
from .testing import plugins, unit  # noqa: F401  (fixtures for testing units: refsuite's and plugins')

# torch and the registry are imported inside the hooks that need them: this module is loaded
# by every pytest run in an environment where refsuite is installed.
if TYPE_CHECKING:
    from .core.devices import Device
    from .core.discovery import Plugins, Provider
    from .core.registry import Unit
    from .datasets.base import DatasetSelection


@dataclasses.dataclass
class _State:
    plugins: Plugins
    devices: list[Device]
    profile: str
    datasets: DatasetSelection
    strict: bool
    runslow: bool
    record: str | None
    #: one row per unit × device outcome; on xdist the controller receives every worker's reports
    results: list = dataclasses.field(default_factory=list)

    def context(self, device: Device, tmp_path: Path):
        # Imported here: hypothesis must be imported after pytest set up assertion rewriting.
        from .core.context import Context
        from .core.profiles import settings_for
        from .core.tolerance import TolerancePolicy

        return Context(
            device=device,
            tmp_path=tmp_path,
            hypothesis=settings_for(self.profile, device.type.name),
            tolerance=TolerancePolicy(device.type.tolerances),
            dataset_name=self.datasets.name,
            dataset_loader=self.datasets.load,
        )


_STATE = pytest.StashKey[_State]()
_BUDGET = pytest.StashKey["budgets.Budget"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("refsuite", "refsuite: run the tutorial's units")
    options.add_to_pytest(group)
    options.add_to_pytest(group, options.BUDGET)
    group.addoption("--units", action="store_true", help="collect the units even when test paths are given")
    group.addoption("--no-units", action="store_true", help="do not collect the units")
    parser.addini("refsuite_units", type="bool", default=False, help="collect refsuite units in this project")


def _units_enabled(config: pytest.Config) -> bool:
    if config.getoption("no_units"):
        return False
    if config.getoption("units") or config.getoption("device"):
        return True
    named_paths = config.args_source == pytest.Config.ArgsSource.ARGS
    return bool(config.getini("refsuite_units")) and not named_paths


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Register refsuite's profiles before hypothesis's own plugin loads --hypothesis-profile;
    # the default is "ci" when none is named.
    from hypothesis import settings

    from .core.profiles import DEFAULT_PROFILE

    config.addinivalue_line("markers", "slow: long-running unit; runs only with --runslow")
    if not config.getoption("hypothesis_profile", None):
        settings.load_profile(DEFAULT_PROFILE)
    profile = config.getoption("hypothesis_profile", None) or DEFAULT_PROFILE
    _plan_budget(config)
    if not _units_enabled(config):
        return
    from .core.devices import resolve_devices
    from .core.discovery import discover
    from .core.records import check_writable
    from .datasets.base import DatasetSelection

    plugins = discover()
    record = config.getoption("record")
    try:
        if record:
            record = str(check_writable(record, "--record"))
        devices = resolve_devices(config.getoption("device"), plugins.devices)
        datasets = DatasetSelection.from_options(
            plugins.datasets,
            config.getoption("dataset"),
            config.getoption("data_root"),
            config.getoption("download"),
        )
    except RefsuiteError as exc:
        raise pytest.UsageError(f"refsuite: {exc}") from None
    state = config.stash[_STATE] = _State(
        plugins=plugins,
        devices=devices,
        profile=profile,
        datasets=datasets,
        strict=config.getoption("strict_units"),
        runslow=config.getoption("runslow"),
        record=record,
    )
    config.pluginmanager.register(_Reporter(state), "refsuite-reporter")
    from .core import locks

    locks.report = _past_capture(config)


def _past_capture(config: pytest.Config):
    """A line to the terminal now, even from inside a test (a unit waiting on the dataset lock)."""

    def report(line: str) -> None:
        capman = config.pluginmanager.getplugin("capturemanager")
        with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
            print(line, file=sys.stderr, flush=True)

    return report


def _plan_budget(config: pytest.Config) -> None:
    """This process's share of the machine (threads, device), where refsuite runs the show: units
    collected, a project that set ``refsuite_units``, or threads the user chose."""
    from .core import budgets

    threads = config.getoption("torch_threads")
    if not (threads or os.environ.get(budgets.THREADS_ENV) or _units_enabled(config) or config.getini("refsuite_units")):
        return
    if hasattr(config, "workerinput"):  # an xdist worker
        workers, worker = config.workerinput["workercount"], budgets.worker_number(config.workerinput["workerid"])
    else:  # the xdist controller (its workers are config.option.tx by now), or a run that is not parallel
        workers, worker = len(config.getoption("tx", None) or []) if config.getoption("dist", "no") != "no" else 0, None
    try:
        config.stash[_BUDGET] = budgets.from_environment(
            workers=workers, worker=worker, threads=threads, devices=config.getoption("worker_devices"))
    except RefsuiteError as exc:
        raise pytest.UsageError(f"refsuite: {exc}") from None


def pytest_sessionstart(session: pytest.Session) -> None:
    budget = session.config.stash.get(_BUDGET, None)
    if budget is not None:
        from .core.budgets import apply

        state = session.config.stash.get(_STATE, None)
        apply(budget, state.devices if state else [])


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_STATE, None) is not None:
        from .core import locks

        locks.report = locks.to_stderr


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(_STATE, None)
    budget = config.stash.get(_BUDGET, None)
    budget_line = [f"refsuite budget: {budget.describe(state.devices if state else [])}"] if budget else []
    if state is None:
        return [f"refsuite {__version__}: units not collected (use --device or --units)", *budget_line]
    import torch

    lines = [f"refsuite {__version__}: torch {torch.__version__}, python {sys.version.split()[0]}"]
    facts = []
    for name, kind in state.plugins.devices.items():
        facts.append(f"{name} ({'available' if kind.is_available() else 'not available'})")
    lines.append("refsuite devices known: " + ", ".join(facts))
    lines.append(
        f"refsuite running on: {', '.join(d.label for d in state.devices)}; "
        f"{len(state.plugins.units)} units; dataset {state.datasets.name}; hypothesis profile {state.profile}"
    )
    if state.plugins.failures:
        lines.append("refsuite plugins that failed to load: " + ", ".join(p.label for p in state.plugins.failures))
    return lines + budget_line


class UnitItem(pytest.Item):
    """One unit on one device."""

    def __init__(self, *, unit: Unit, device: Device, **kwargs) -> None:
        super().__init__(**kwargs)
        self.unit = unit
        self.device = device
        self.user_properties.append(
            ("refsuite", {"unit": unit.id, "device": device.label, "section": unit.section})
        )
        if unit.requires.slow:
            self.add_marker(pytest.mark.slow)

    def runtest(self) -> None:
        state = self.config.stash[_STATE]
        reason = self.unit.requires.unmet(self.device, state.datasets.name, state.runslow, state.datasets.capabilities)
        if reason:
            pytest.skip(reason)
        with tempfile.TemporaryDirectory(prefix="refsuite-") as tmp:
            budget = self.config.stash.get(_BUDGET, None)  # under xdist: this worker's device of the type
            ctx = state.context(budget.device_for(self.device) if budget else self.device, Path(tmp))
            try:
                self.unit.check(ctx)
            finally:
                self.user_properties.append(("refsuite_comparisons", ctx.comparisons))
                self.user_properties.append(("refsuite_metrics", ctx.metrics))

    def reportinfo(self):
        path, line = self.unit.location
        return path, line - 1, f"{self.name}: {self.unit.summary}"

    def repr_failure(self, excinfo, style=None):
        head = f"{self.unit.id} on {self.device.label} failed: {self.unit.summary}\n(provided by {self.unit.provider})\n"
        return head + str(super().repr_failure(excinfo, style="short"))


class BrokenProviderItem(pytest.Item):
    """A provider that failed to load: one failing item carrying its traceback."""

    def __init__(self, *, provider: Provider, **kwargs) -> None:
        super().__init__(**kwargs)
        self.provider = provider

    def runtest(self) -> None:
        raise RefsuiteError(f"refsuite plugin {self.provider.label} failed to load:\n{self.provider.error}")

    def repr_failure(self, excinfo, style=None):
        return str(excinfo.value)

    def reportinfo(self):
        return self.path, None, self.name


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    added: list[pytest.Item] = []
    for provider in state.plugins.failures:
        name = f"refsuite-plugin[{provider.group}:{provider.name}]"
        added.append(BrokenProviderItem.from_parent(session, name=name, nodeid=name, provider=provider))
    for unit in state.plugins.units:
        for device in state.devices:
            name = f"{unit.id}[{device.label}]"
            added.append(UnitItem.from_parent(session, name=name, nodeid=name, unit=unit, device=device))
    items[:0] = added


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    state = item.config.stash.get(_STATE, None)
    if state and state.strict and isinstance(item, UnitItem) and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"--strict: {item.name} was skipped ({reason}); strict mode counts skips as failures"
    return report


class _Reporter:
    """Collects unit outcomes and prints the per-section summary; registered only when units run."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        meta = props.get("refsuite")
        if meta is None or not (report.when == "call" or (report.when == "setup" and not report.passed)):
            return
        reason = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = report.longrepr[2].removeprefix("Skipped: ")
        elif report.failed and report.longrepr:
            lines = str(report.longrepr).strip().splitlines()
            errors = [line for line in lines if line.startswith("E ") and "Error" in line]
            reason = (errors[0] if errors else lines[-1]).removeprefix("E").strip()[:300]
        self.state.results.append(
            {
                **meta,
                "outcome": report.outcome,
                "duration_s": round(report.duration, 6),
                "reason": reason,
                "comparisons": props.get("refsuite_comparisons", []),
                "metrics": props.get("refsuite_metrics", {}),
            }
        )

    def pytest_terminal_summary(self, terminalreporter) -> None:
        tr = terminalreporter
        results = self.state.results
        for provider in self.state.plugins.failures:
            tr.write_line(f"refsuite: FAILED {provider.label}: {provider.error.strip().splitlines()[-1]}", red=True)
        if self.state.plugins.failures:
            tr.write_line("refsuite: a plugin that fails to load fails the run, whatever -k selects "
                          "(`refsuite doctor` shows the traceback)", red=True)
        if not results:
            return
        tr.write_sep("=", "refsuite: units by section")
        from .core.registry import SECTIONS

        tr.write_line(f"{'section':<14}{'passed':>8}{'failed':>8}{'skipped':>9}")
        seen = {r["section"] for r in results}
        for section in [s for s in SECTIONS if s in seen] + sorted(seen - set(SECTIONS)):
            rows = [r for r in results if r["section"] == section]
            count = {k: sum(r["outcome"] == k for r in rows) for k in ("passed", "failed", "skipped")}
            tr.write_line(f"{section:<14}{count['passed']:>8}{count['failed']:>8}{count['skipped']:>9}")
        for r in results:
            if r["outcome"] == "skipped":
                tr.write_line(f"  skipped {r['unit']}[{r['device']}]: {r['reason']}", yellow=True)
        for r in results:
            if r["outcome"] == "failed":
                tr.write_line(f"  FAILED {r['unit']}[{r['device']}]: {r['reason']}", red=True)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput"):
            return
        # A broken provider is part of the verdict even when -k deselected the item that stands for it.
        if self.state.plugins.failures and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if not self.state.record:
            return
        from .core.records import environment, write_json

        env = environment([d.label for d in self.state.devices], self.state.datasets.name)
        env["broken_providers"] = [p.label for p in self.state.plugins.failures]
        write_json(self.state.record, {"environment": env, "results": self.state.results})
