"""pytest plugin (registered through ``pytest11``): every unit × device becomes a test item.

Units are collected when ``--device`` or ``--units`` is given, or when the ini option
``refsuite_units`` is true and no explicit test paths were named, so installing refsuite
does not add items to other projects' test runs. They are collected by one collector beside
the test files, so each has a node id, ``refsuite::<unit id>[<device>]``, that pytest's
arguments take like any other (``pytest 'refsuite::tensors.seed.golden[cpu]'``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from . import options
from ._version import __version__
from .core import interrupts
from .core.errors import RefsuiteError

# torch and the registry are imported inside the hooks that need them: this module is loaded
# by every pytest run in an environment where refsuite is installed.
if sys.version_info >= (3, 11):
    _ExceptionGroup = BaseExceptionGroup  # noqa: F821 (a builtin from 3.11)
else:  # hypothesis depends on the backport there
    from exceptiongroup import BaseExceptionGroup as _ExceptionGroup

if TYPE_CHECKING:
    from .core.devices import Device
    from .core.discovery import Plugins, Provider
    from .core.manifests import Manifest
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
    #: the items that node ids on the command line chose by name; None: every unit
    chosen: set | None = None
    #: the run's settings for records: profile, seed, selection, start time
    settings: dict = dataclasses.field(default_factory=dict)
    #: one row per unit × device outcome; on xdist the controller receives every worker's reports
    results: list = dataclasses.field(default_factory=list)
    #: whether this session installed refsuite's SIGINT handler (so it uninstalls it)
    owns_interrupts: bool = False
    #: (n, blob) from --refsuite-reproduce: replay one failing example of the unit's n-th property
    reproduce: tuple | None = None
    #: --unit-timeout in seconds (0: no limit); None: each unit's own limit, or the default
    unit_timeout: float | None = None
    #: --expect: the failures and skips reviewed as expected, per device type
    manifest: "Manifest | None" = None
    #: --repro: where each failing unit's repro bundle is written
    repro_dir: str | None = None

    def context(self, device: Device, tmp_path: Path):
        # Imported here: hypothesis must be imported after pytest set up assertion rewriting.
        from .core.context import Context
        from .core.profiles import settings_for
        from .core.tolerance import TolerancePolicy

        return Context(
            reproduce=self.reproduce,
            device=device,
            tmp_path=tmp_path,
            hypothesis=settings_for(self.profile, device.type.name, device.type.max_examples),
            tolerance=TolerancePolicy(device.type.tolerances),
            dataset_name=self.datasets.name,
            dataset_loader=self.datasets.load,
            capture_failures=self.repro_dir is not None,
        )


_STATE = pytest.StashKey[_State]()
_BUDGET = pytest.StashKey["budgets.Budget"]()

#: the units' collector: a unit's node id is ``refsuite::<unit id>[<device>]``
NODE_ROOT = "refsuite"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("refsuite", "refsuite: run the tutorial's units")
    options.add_to_pytest(group)
    options.add_to_pytest(group, options.BUDGET)
    group.addoption("--units", action="store_true", help="collect the units even when test paths are given")
    group.addoption("--no-units", action="store_true", help="do not collect the units")
    parser.addini("refsuite_units", type="bool", default=False, help="collect refsuite units in this project")


def _take_node_ids(config: pytest.Config) -> list[str]:
    """The units named by node id among pytest's arguments, taken out of them: they name no file."""
    prefix = NODE_ROOT + "::"
    named = [arg for arg in config.args if arg.startswith(prefix)]
    if named:
        config.args[:] = [arg for arg in config.args if not arg.startswith(prefix)]
    return [arg.removeprefix(prefix) for arg in named]


def _choose(named: list[str], units, devices: list[Device]) -> set[str]:
    """The item names that node ids choose; a UsageError for one that names nothing in this run."""
    labels = [d.label for d in devices]
    chosen: set[str] = set()
    for name in named:
        unit_id, bracket, label = name.partition("[")
        label = label.removesuffix("]")
        if unit_id not in units:
            raise pytest.UsageError(f"refsuite: {NODE_ROOT}::{name}: no unit {unit_id!r} (`refsuite list` shows the ids)")
        if bracket and label not in labels:
            raise pytest.UsageError(f"refsuite: {NODE_ROOT}::{name}: device {label!r} is not in this run "
                                    f"(running on {', '.join(labels)}; --device chooses)")
        unit_id = units.canonical(unit_id)
        chosen.update(f"{unit_id}[{lab}]" for lab in ([label] if bracket else labels))
    return chosen


def _units_enabled(config: pytest.Config, named: list[str]) -> bool:
    if config.getoption("no_units"):
        if named:
            raise pytest.UsageError(f"refsuite: --no-units, yet {NODE_ROOT}::{named[0]} names a unit")
        return False
    if config.getoption("units") or named or any(config.getoption(o.dest) for o in options.RUN):
        return True
    named_paths = config.args_source == pytest.Config.ArgsSource.ARGS
    return bool(config.getini("refsuite_units")) and not named_paths


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Nothing global changes here (hypothesis's settings, fixtures, files) unless units are run:
    # a session that asks nothing of refsuite runs exactly as it would without it.
    profile = config.getoption("refsuite_profile") or options.DEFAULT_PROFILE
    named = _take_node_ids(config)
    _plan_budget(config, named)
    if not _units_enabled(config, named):
        return
    config.addinivalue_line("markers", "slow: long-running unit; runs only with --runslow")
    from .core.devices import resolve_devices
    from .core.discovery import discover
    from .core.records import check_writable
    from .datasets.base import DatasetSelection

    # before discovery: a KeyboardInterrupt that a plugin raises on import is then told from Ctrl-C
    owns_interrupts = interrupts.install()
    plugins = discover()
    record = config.getoption("record")
    try:
        if record:
            record = str(check_writable(record, "--record"))
        # a node id's device is the run's device when --device does not say
        in_names = [n.partition("[")[2].removesuffix("]") for n in named if "[" in n]
        devices = resolve_devices(config.getoption("device") or list(dict.fromkeys(in_names)), plugins.devices,
                                  plugins.broken("refsuite.devices"))
        reproduce = _reproduce(config.getoption("refsuite_reproduce"))
        unit_timeout = _seconds(config.getoption("unit_timeout"))
        manifest = repro_dir = None
        if config.getoption("expect"):
            from .core.manifests import load_manifest

            manifest = load_manifest(config.getoption("expect"), plugins.units, plugins.devices)
        if config.getoption("repro"):
            repro_dir = str(check_writable(config.getoption("repro"), "--repro", directory=True))
        datasets = DatasetSelection.from_options(
            plugins.datasets,
            config.getoption("dataset"),
            config.getoption("data_root"),
            config.getoption("download"),
            plugins.broken("refsuite.datasets"),
        )
    except RefsuiteError as exc:
        if owns_interrupts:
            interrupts.uninstall()
        raise pytest.UsageError(f"refsuite: {exc}") from None
    except SystemExit as exc:  # a plugin's hook (a device's count, a dataset's check) called sys.exit()
        if owns_interrupts:
            interrupts.uninstall()
        pytest.exit(f"refsuite: {plugins.culprit(exc)} called sys.exit({exc.code!r}) while the run was set up", returncode=1)
    state = config.stash[_STATE] = _State(
        plugins=plugins,
        devices=devices,
        profile=profile,
        datasets=datasets,
        strict=config.getoption("strict_units"),
        runslow=config.getoption("runslow"),
        record=record,
        chosen=_choose(named, plugins.units, devices) if named else None,
        settings=_run_settings(config, profile, named),
        reproduce=reproduce,
        unit_timeout=unit_timeout,
        manifest=manifest,
        repro_dir=repro_dir,
    )
    if manifest is not None:
        state.settings["manifest"] = manifest.describe()
    if repro_dir is not None:
        state.settings["repro_dir"] = repro_dir
    config.pluginmanager.register(_Reporter(state, config), "refsuite-reporter")
    from .core import locks

    state.owns_interrupts = owns_interrupts
    locks.report = _past_capture(config)


_REPRODUCE = re.compile(r"^(\d+):([A-Za-z0-9+/]+=*)$")


def _reproduce(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    match = _REPRODUCE.match(value)
    if not match or int(match[1]) < 1:
        raise RefsuiteError(f"--reproduce {value!r}: expected N:BLOB, the property's number and hypothesis's "
                            "blob, as a failure's replay line prints them")
    return int(match[1]), match[2]


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise RefsuiteError(f"--unit-timeout {value!r}: expected seconds, a number ≥ 0 (0: no limit)")
    return seconds


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or state.reproduce is None:
        return
    # after -k and node ids chose: one blob replays one unit's example
    chosen = sorted({item.name for item in items if isinstance(item, UnitItem)})
    if len(chosen) != 1:
        raise pytest.UsageError(f"refsuite: --reproduce replays one unit's example, and {len(chosen)} units are "
                                "selected; name the unit with -k as the replay line does")


def _run_settings(config: pytest.Config, profile: str, named: list[str]) -> dict:
    """What this run chose, for its record: two records made under different settings are not like for like."""
    from .core.profiles import get_profile

    chosen = get_profile(profile)
    return {
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hypothesis_profile": profile,
        "max_examples": chosen.max_examples,
        "derandomize": chosen.derandomize,
        # None with derandomize: the examples follow from each property; without: hypothesis drew a seed per test
        "seed": _number(config.getoption("hypothesis_seed", None)),
        "keyword": config.getoption("keyword") or None,
        "node_ids": [f"{NODE_ROOT}::{n}" for n in named],
        "strict": config.getoption("strict_units"),
        "runslow": config.getoption("runslow"),
    }


def _number(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return text


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
    from .core import budgets

    threads = config.getoption("torch_threads")
    if not (threads or os.environ.get(budgets.THREADS_ENV) or _units_enabled(config, named)
            or config.getini("refsuite_units")):
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
    state = config.stash.get(_STATE, None)
    if state is not None:
        from .core import locks

        locks.report = locks.to_stderr
        if state.owns_interrupts:
            interrupts.uninstall()


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(_STATE, None)
    budget = config.stash.get(_BUDGET, None)
    budget_line = [f"refsuite budget: {budget.describe(state.devices if state else [])}"] if budget else []
    if state is None:
        return [f"refsuite {__version__}: units not collected (use --device or --units)", *budget_line]
    import torch

    from .core.devices import availability

    lines = [f"refsuite {__version__}: torch {torch.__version__}, python {sys.version.split()[0]}"]
    facts = []
    for name, kind in state.plugins.devices.items():
        available, problem = availability(kind)
        facts.append(f"{name} ({'available' if available else 'not available'}{': ' + problem if problem else ''})")
    lines.append("refsuite devices known: " + ", ".join(facts))
    lines.append(
        f"refsuite running on: {', '.join(d.label for d in state.devices)}; "
        f"{len(state.plugins.units)} units; dataset {state.datasets.name}; hypothesis profile {state.profile}"
    )
    if state.plugins.failures:
        lines.append("refsuite plugins that failed to load: " + ", ".join(p.label for p in state.plugins.failures))
    return lines + budget_line


class UnitCollector(pytest.Collector):
    """The registered units on the run's devices, and one failing item per provider that failed to load."""

    def collect(self):
        state = self.config.stash[_STATE]
        for provider in state.plugins.failures:
            name = f"refsuite-plugin[{provider.group}:{provider.name}]"
            yield BrokenProviderItem.from_parent(self, name=name, nodeid=f"{NODE_ROOT}::{name}", provider=provider)
        for unit in state.plugins.units:
            for device in state.devices:
                name = f"{unit.id}[{device.label}]"
                if state.chosen is None or name in state.chosen:
                    # spelled out: pytest parses a node id's [...] as parameters, as for --lf's ids
                    yield UnitItem.from_parent(self, name=name, nodeid=f"{NODE_ROOT}::{name}", unit=unit, device=device)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    # The units stand beside the session's test files and directories, ahead of them.
    if isinstance(collector, pytest.Session) and report.passed and collector.config.stash.get(_STATE, None):
        report.result.insert(0, UnitCollector.from_parent(collector, name=NODE_ROOT, nodeid=NODE_ROOT))
    return report


#: what a failure shows of the traceback: the unit's frames, not those of the libraries that ran it
_LIBRARIES = ("_pytest", "pytest", "pluggy", "hypothesis", "torch", "numpy", "exceptiongroup")
#: a failure's text in a report at most; its middle is cut beyond this
_FAILURE_CHARS = 6000


@functools.cache
def _framework_paths() -> tuple[str, ...]:
    import importlib.util

    paths = []
    for name in _LIBRARIES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            origin = Path(spec.origin)
            # a package's directory with its separator: torch/ is not torchvision/
            paths.append(str(origin.parent) + os.sep if origin.name == "__init__.py" else str(origin))
    here = Path(__file__).parent
    paths += [str(here / f) for f in ("pytest_plugin.py", "testing.py", "core/context.py", "core/tolerance.py")]
    return tuple(paths)


def _own_frames(excinfo: pytest.ExceptionInfo):
    """The traceback without pytest's, pluggy's, hypothesis's, torch's and numpy's frames, nor the
    plugin's and Context's; the last frame if nothing else is left."""
    traceback = excinfo.traceback.filter(excinfo)  # honours __tracebackhide__
    framework = _framework_paths()
    own = traceback.filter(lambda entry: not str(entry.path).startswith(framework))
    return own if len(own) else traceback[-1:]


#: hypothesis's advice, with the blob: "... by temporarily adding @reproduce_failure('6.1', b'AXic') as a decorator ..."
_HYPOTHESIS_ADVICE = re.compile(r"You can reproduce this (?:example|test case) by temporarily adding "
                                r"@reproduce_failure\('[^']*', b'([^']*)'\) as a decorator on your test \w+")


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions a failure is made of: a group's members (nested groups flattened), or itself."""
    if isinstance(exc, _ExceptionGroup):
        return [leaf for member in exc.exceptions for leaf in _leaves(member)]
    return [exc]


def _reason(exc: BaseException) -> str:
    """A failure as one line: the error's type and first line (joined with the next when it ends in
    ':'); several distinct failures (an exception group) as their count and each one's line."""
    def one(e: BaseException) -> str:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        said = lines[0] if lines else ""
        if said.endswith(":") and len(lines) > 1:
            said = f"{said} {lines[1]}"
        return f"{type(e).__name__}: {said}" if said else type(e).__name__

    leaves = _leaves(exc)
    if len(leaves) == 1:
        return one(leaves[0])[:300]
    return f"{len(leaves)} distinct failures: " + "; ".join(one(e)[:150] for e in leaves)


def _own_repr(excinfo: pytest.ExceptionInfo) -> str:
    """The failure in pytest's short style over the unit's own frames; each member of a group on its own."""
    leaves = _leaves(excinfo.value)
    if len(leaves) == 1 and leaves[0] is excinfo.value:
        excinfo.traceback = _own_frames(excinfo)
        return str(excinfo.getrepr(style="short", tbfilter=False))
    parts = []
    for i, leaf in enumerate(leaves, 1):
        member = pytest.ExceptionInfo.from_exception(leaf)
        member.traceback = _own_frames(member)
        parts.append(f"--- failure {i} of {len(leaves)} ---\n{member.getrepr(style='short', tbfilter=False)}")
    return "\n".join(parts)


def _bounded(text: str) -> str:
    if len(text) <= _FAILURE_CHARS:
        return text
    half = _FAILURE_CHARS // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"


class UnitItem(pytest.Item):
    """One unit on one device."""

    def __init__(self, *, unit: Unit, device: Device, **kwargs) -> None:
        super().__init__(**kwargs)
        self.unit = unit
        self.device = device
        # JSON: JUnit writes a property's str() and xdist carries it between processes
        self.user_properties.append(
            ("refsuite", json.dumps({"unit": unit.id, "device": device.label, "section": unit.section}))
        )
        if unit.requires.slow:
            self.add_marker(pytest.mark.slow)
        manifest = self.config.stash[_STATE].manifest
        #: the manifest's entry that expects this unit to fail or be skipped on this device type
        self.expected = manifest.lookup(unit.id, device.type.name) if manifest is not None else None
        if self.expected is not None:
            self.user_properties.append(("refsuite_expect", json.dumps(self.expected.describe())))
            if self.expected.outcome == "fail":
                # pytest's own strict xfail: JUnit, xdist and the terminal all show the outcome as theirs
                self.add_marker(pytest.mark.xfail(strict=True, reason=f"expected by {self.expected.where}: "
                                                                      f"{self.expected.reason}"))

    def runtest(self) -> None:
        state = self.config.stash[_STATE]
        reason = self.unit.requires.unmet(self.device, state.datasets.name, state.runslow, state.datasets.capabilities)
        if reason:
            pytest.skip(reason)
        with tempfile.TemporaryDirectory(prefix="refsuite-") as tmp:
            budget = self.config.stash.get(_BUDGET, None)  # under xdist: this worker's device of the type
            ctx = self._ctx = state.context(budget.device_for(self.device) if budget else self.device, Path(tmp))
            try:
                self._check(ctx, state.unit_timeout)
            except Exception as exc:
                if state.repro_dir is not None:
                    self._write_repro(ctx, exc, state)
                raise
            finally:
                self.user_properties.append(("refsuite_comparisons", json.dumps(ctx.comparisons.entries())))
                self.user_properties.append(("refsuite_metrics", json.dumps(ctx.metrics, default=str)))

    def _write_repro(self, ctx, exc: Exception, state: _State) -> None:
        """This failure's repro bundle (``--repro``); a bundle that cannot be written is reported, not raised."""
        from .core import repro
        from .core.records import environment

        failure = ctx.failure if repro.is_cause(ctx.failure, exc, _leaves) else None
        notes = "\n".join(str(n) for leaf in _leaves(exc) for n in getattr(leaf, "__notes__", ()))
        blob = _HYPOTHESIS_ADVICE.search(notes)
        replay = f"{ctx.failed_property}:{blob[1]}" if blob and ctx.failed_property else None
        try:
            device_facts = self.device.type.facts()
        except Exception as problem:  # a backend's facts are context, not a reason to lose the bundle
            device_facts = {"error": f"{type(problem).__name__}: {problem}"}
        facts = {"unit": self.unit.id, "summary": self.unit.summary, "provider": self.unit.provider,
                 "device_label": self.device.label, "device_type": self.device.type.name,
                 "device_facts": device_facts, "reason": _reason(exc), "rerun": self.rerun_command(),
                 "replay": self.rerun_command(reproduce=replay) if replay else None,
                 "hypothesis_blob": blob[1] if blob else None, "property": ctx.failed_property if blob else None,
                 "environment": environment([self.device.label], state.datasets.name)}
        try:
            report = str(self.repr_failure(pytest.ExceptionInfo.from_exception(exc)))
            path = repro.write_bundle(state.repro_dir, self.name, failure, facts, report)
            said = {"path": str(path), "recomputes": bool(failure and failure["expression"])}
        except Exception as problem:
            said = {"error": f"{type(problem).__name__}: {problem}"}
        self.user_properties.append(("refsuite_repro", json.dumps(said)))

    def _check(self, ctx, unit_timeout: float | None) -> None:
        """The unit's check, with torch's global state restored around it and under its time limit."""
        from .core import isolation, timeouts  # isolation imports torch: not at module level (see the top)

        limit = unit_timeout if unit_timeout is not None else (self.unit.timeout_s or timeouts.DEFAULT_S)
        try:
            with isolation.guarded() as leaks, timeouts.limit(limit):
                self.unit.check(ctx)
        except timeouts.UnitTimeout:
            raise AssertionError(f"{self.unit.id} timed out after {limit:g} s: it hung, or is far slower than "
                                 "expected here (--unit-timeout SECONDS sets the limit; 0: none)") from None
        except KeyboardInterrupt:
            if not interrupts.raised_by_code():
                raise  # the user's Ctrl-C (or a signal): the run stops
            raise AssertionError(f"{self.unit.id} raised KeyboardInterrupt itself (no Ctrl-C or signal "
                                 "arrived); the run goes on") from None
        if leaks:
            raise AssertionError(isolation.left_changed(self.unit.id, leaks))

    def reportinfo(self):
        path, line = self.unit.location
        return path, line - 1, f"{self.name}: {self.unit.summary}"

    def repr_failure(self, excinfo, style=None):
        # The first line is the reason: pytest's short summary and refsuite's both show it.
        head = f"{_reason(excinfo.value)}\n{self.unit.id} on {self.device.label}: {self.unit.summary}\n" \
               f"(provided by {self.unit.provider})\n"
        if self.config.getoption("fulltrace", False) or self.config.getoption("tbstyle", "auto") not in ("auto", "short", "long"):
            body = str(super().repr_failure(excinfo, style=style))
        else:
            body = _own_repr(excinfo)
        return f"{head}{_bounded(self._replay_advice(body).rstrip())}\nrerun: {self.rerun_command()}"

    def _replay_advice(self, body: str) -> str:
        """hypothesis's "add @reproduce_failure(...)" points into refsuite's package: say the command instead."""
        ctx = getattr(self, "_ctx", None)
        ordinal = ctx.failed_property if ctx is not None else None
        if ordinal is None:
            return body

        def command(match: re.Match) -> str:
            return f"replay this example: {self.rerun_command(reproduce=f'{ordinal}:{match[1]}')}"

        return _HYPOTHESIS_ADVICE.sub(command, body)

    def rerun_command(self, reproduce: str | None = None) -> str:
        """The one line that runs this unit alone, as this run ran it (``reproduce``: N:BLOB to replay)."""
        import shlex

        state = self.config.stash[_STATE]
        words = ["refsuite", "run", "--device", shlex.quote(self.device.label)]
        for option, flag in (("dataset", "--dataset"), ("data_root", "--data-root")):
            if self.config.getoption(option):
                words += [flag, shlex.quote(str(self.config.getoption(option)))]
        if state.settings.get("hypothesis_profile") not in (None, options.DEFAULT_PROFILE):
            words += ["--profile", state.settings["hypothesis_profile"]]
        if self.unit.requires.slow:
            words.append("--runslow")
        words += ["-k", f"'{self.unit.id}'"]
        if reproduce:
            words += ["--reproduce", shlex.quote(reproduce)]
        if state.settings.get("seed") is not None:
            words += ["--", f"--hypothesis-seed={state.settings['seed']}"]
        return " ".join(words)


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    state = item.config.stash.get(_STATE, None)
    expected = getattr(item, "expected", None) if isinstance(item, UnitItem) else None
    if expected is not None and report.when == "call":
        _judge_expected(item, report, expected)
    reviewed_skip = expected is not None and expected.outcome == "skip"
    if (state and state.strict and isinstance(item, UnitItem) and report.skipped and not hasattr(report, "wasxfail")
            and not reviewed_skip):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"--strict: {item.name} was skipped ({reason}); strict mode counts skips as failures"
    return report


def _judge_expected(item: UnitItem, report: pytest.TestReport, expected) -> None:
    """A manifest's expectation met or not: an expected failure that passes, or an expected skip
    that runs, fails the run and names the entry to delete; an expected skip is not a --strict failure."""
    stale = None
    if expected.outcome == "fail" and report.failed and str(report.longrepr).startswith("[XPASS(strict)]"):
        stale = f"expected to fail on {item.device.type.name} by {expected.where}, yet it passed"
        report.longrepr = f"{stale}: the fault is gone; delete {expected.where} ({', '.join(expected.units)})"
    elif expected.outcome == "skip" and not report.skipped:
        stale = f"expected to be skipped on {item.device.type.name} by {expected.where}, yet it ran"
        ran = "failed" if report.failed else "passed"
        said = f"{stale} and {ran}; delete {expected.where} ({', '.join(expected.units)})"
        report.longrepr = said + (f"\n{report.longrepr}" if report.failed else "")
        report.outcome = "failed"
    if stale is not None:
        report.refsuite_stale = expected.where  # a plain attribute: xdist carries it to the controller


class _Reporter:
    """Collects unit outcomes and prints the per-section summary; registered only when units run."""

    def __init__(self, state: _State, config: pytest.Config) -> None:
        self.state = state
        self.config = config
        #: the item running now, named when an interrupt stops the run (a hung unit, say)
        self.running: str | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> None:
        interrupts.check()  # raised here, a KeyboardInterrupt ends the session as Ctrl-C does
        self.running = item.name

    def pytest_runtest_logfinish(self) -> None:
        self.running = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "refsuite" not in props:
            return
        meta = json.loads(props["refsuite"])
        _junit_classname(self.config, report, meta["section"])
        if not (report.when == "call" or (report.when == "setup" and not report.passed)):
            return
        reason, outcome = "", report.outcome
        if hasattr(report, "wasxfail"):  # an expected failure (a manifest's): why it failed, as for a failure
            outcome, reason = "xfailed", _failure_line(str(report.longrepr or ""))
        elif report.skipped and isinstance(report.longrepr, tuple):
            reason = report.longrepr[2].removeprefix("Skipped: ")
        elif report.failed and report.longrepr:
            reason = _failure_line(str(report.longrepr))
        row = {
            **meta,
            "outcome": outcome,
            "duration_s": round(report.duration, 6),
            "reason": reason,
            "comparisons": json.loads(props.get("refsuite_comparisons", "[]")),
            "metrics": json.loads(props.get("refsuite_metrics", "{}")),
        }
        # only where asked for: a run without --expect or --repro records exactly what it always did
        if "refsuite_expect" in props:
            row["expected"] = json.loads(props["refsuite_expect"])
            if getattr(report, "refsuite_stale", None):
                row["expected"]["stale"] = True
        if "refsuite_repro" in props:
            row["repro"] = json.loads(props["refsuite_repro"])
        self.state.results.append(row)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        tr = terminalreporter
        self._summary_plugins(tr)
        if self.state.results:
            tr.write_sep("=", "refsuite: units by section")
            self._summary_sections(tr)
            self._summary_units(tr)
        self._summary_interrupted(tr)

    def _summary_plugins(self, tr) -> None:
        for provider in self.state.plugins.failures:
            tr.write_line(f"refsuite: FAILED {provider.label}: {provider.error.strip().splitlines()[-1]}", red=True)
        if self.state.plugins.failures:
            tr.write_line("refsuite: a plugin that fails to load fails the run, whatever -k selects "
                          "(`refsuite doctor` shows the traceback)", red=True)

    def _summary_sections(self, tr) -> None:
        """One line per section: how many units passed, failed, were skipped (and expected to fail)."""
        from .core.registry import SECTIONS

        results, manifest = self.state.results, self.state.manifest
        xfailed = f"{'expected':>10}" if manifest is not None else ""
        tr.write_line(f"{'section':<14}{'passed':>8}{'failed':>8}{'skipped':>9}{xfailed}")
        seen = {r["section"] for r in results}
        for section in [s for s in SECTIONS if s in seen] + sorted(seen - set(SECTIONS)):
            rows = [r for r in results if r["section"] == section]
            count = {k: sum(r["outcome"] == k for r in rows) for k in ("passed", "failed", "skipped", "xfailed")}
            xfailed = f"{count['xfailed']:>10}" if manifest is not None else ""
            tr.write_line(f"{section:<14}{count['passed']:>8}{count['failed']:>8}{count['skipped']:>9}{xfailed}")

    def _summary_units(self, tr) -> None:
        """The units that did not simply pass, each with its reason, and the repro bundles written."""
        results, manifest = self.state.results, self.state.manifest
        for r in results:
            if r["outcome"] == "skipped":
                reviewed = f" (expected: {r['expected']['entry']})" if "expected" in r else ""
                tr.write_line(f"  skipped {r['unit']}[{r['device']}]: {r['reason']}{reviewed}", yellow=True)
        if manifest is not None:
            _manifest_summary(tr, manifest, results)
        for r in results:
            if r["outcome"] == "failed":
                tr.write_line(f"  FAILED {r['unit']}[{r['device']}]: {r['reason']}", red=True)
        bundles = [r for r in results if r.get("repro")]
        if bundles:
            tr.write_line(f"refsuite: repro bundles ({len(bundles)}) in {self.state.repro_dir}:")
            for r in bundles:
                said = r["repro"].get("path") or f"not written: {r['repro'].get('error')}"
                tr.write_line(f"  {r['unit']}[{r['device']}]: {said}", red="error" in r["repro"])

    def _summary_interrupted(self, tr) -> None:
        # said even when no unit finished: the one that was running is then the whole story
        if interrupts.received():
            during = f" during {self.running}" if self.running else ""
            tr.write_line(f"refsuite: interrupted ({interrupts.describe()}){during}: only the units above ran; "
                          "this is no verdict", yellow=True)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if interrupts.received() and session.exitstatus != pytest.ExitCode.INTERRUPTED:
            # Ctrl-C after the last unit had started, its KeyboardInterrupt swallowed: still not a verdict
            session.exitstatus = pytest.ExitCode.INTERRUPTED
        if hasattr(session.config, "workerinput"):
            return
        # A broken provider is part of the verdict even when -k deselected the item that stands for it.
        if self.state.plugins.failures and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if interrupts.received():
            self.state.settings["interrupted"] = interrupts.describe()
        if not self.state.record:
            return
        from .core.records import RECORD_FORMAT, OutputError, environment, write_json

        env = environment([d.label for d in self.state.devices], self.state.datasets.name)
        env["broken_providers"] = [p.label for p in self.state.plugins.failures]
        try:
            write_json(self.state.record, {"format": RECORD_FORMAT, "environment": env, "run": self.state.settings,
                                           "results": self.state.results})
        except OutputError as exc:  # the run's summary still prints; the verdict is a failure
            sys.stderr.write(f"refsuite: {exc}\n")
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _manifest_summary(tr, manifest: Manifest, results: list) -> None:
    """What the manifest expected and what happened: the expected failures, the entries to delete."""
    todo = manifest.todo()
    if todo:
        tr.write_line(f"refsuite: WARNING: {len(todo)} manifest entr{'y' if len(todo) == 1 else 'ies'} still "
                      f"without a reason (TODO): {', '.join(e.where for e in todo)}; say why each is expected",
                      yellow=True)
    expected = [r for r in results if r["outcome"] == "xfailed"]
    if expected:
        tr.write_line(f"refsuite: expected failures (manifest {manifest.path}): {len(expected)}")
        for r in expected:
            tr.write_line(f"  xfail {r['unit']}[{r['device']}]: {r['reason']} ({r['expected']['entry']})")
    stale: dict = {}
    for r in results:
        if r.get("expected", {}).get("stale"):
            stale.setdefault((r["expected"]["entry"], r["expected"]["outcome"]), []).append(f"{r['unit']}[{r['device']}]")
    for (entry, outcome), names in stale.items():
        said = "expected but passed" if outcome == "fail" else "expected to be skipped but ran"
        tr.write_line(f"refsuite: {said}: delete {entry} ({', '.join(names)})", red=True)


def _failure_line(text: str) -> str:
    """A failure's reason: the first line of its report (a unit's report starts with it)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def _junit_classname(config: pytest.Config, report: pytest.TestReport, section: str) -> None:
    """A unit's JUnit classname is its section (pytest would derive "refsuite" from the node id)."""
    try:
        # the object pytest's own record_xml_attribute fixture writes through; absent on xdist workers
        from _pytest.junitxml import xml_key
    except ImportError:  # a pytest that moved it: the classname stays pytest's
        return
    xml = config.stash.get(xml_key, None)
    if xml is not None:
        xml.node_reporter(report).add_attribute("classname", section)
