"""The items: one unit on one device, and a provider that failed to load; how a failure reads."""
from __future__ import annotations

import functools
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..core import interrupts
from ..core.errors import PluginError
from ..core.profiles import DEFAULT_PROFILE
from . import longrepr
from .state import STATE

if sys.version_info >= (3, 11):
    _ExceptionGroup = BaseExceptionGroup  # noqa: F821 (a builtin from 3.11)
else:  # hypothesis depends on the backport there
    from exceptiongroup import BaseExceptionGroup as _ExceptionGroup

if TYPE_CHECKING:
    from ..core.devices import Device
    from ..core.discovery import Provider
    from ..core.registry import Unit
    from ..settings import RunSettings


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
    # this package's modules, and those that run a check for it
    here = Path(__file__).parent
    paths.append(str(here) + os.sep)
    paths += [str(here.parent / f) for f in ("testing.py", "core/context.py", "core/tolerance.py")]
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
        manifest = self.config.stash[STATE].settings.manifest
        #: the manifest's entry that expects this unit to fail or be skipped on this device type
        self.expected = manifest.lookup(unit.id, device.type.name) if manifest is not None else None
        if self.expected is not None:
            self.user_properties.append(("refsuite_expect", json.dumps(self.expected.describe())))
            if self.expected.outcome == "fail":
                # pytest's own strict xfail: JUnit, xdist and the terminal all show the outcome as theirs
                self.add_marker(pytest.mark.xfail(strict=True, reason=f"expected by {self.expected.where}: "
                                                                      f"{self.expected.reason}"))

    def runtest(self) -> None:
        state = self.config.stash[STATE]
        settings = state.settings
        reason = self.unit.requires.unmet(self.device, settings.datasets.name, settings.runslow,
                                          settings.datasets.capabilities)
        if reason:
            pytest.skip(reason)
        with tempfile.TemporaryDirectory(prefix="refsuite-") as tmp:
            ctx = self._ctx = settings.context(self.device, Path(tmp), report=state.report)
            try:
                self._check(ctx, settings.unit_timeout)
            except Exception as exc:
                if settings.repro_dir is not None:
                    self._write_repro(ctx, exc, settings)
                raise
            finally:
                self.user_properties.append(("refsuite_comparisons", json.dumps(ctx.comparisons.entries())))
                self.user_properties.append(("refsuite_metrics", json.dumps(ctx.metrics, default=str)))

    def _write_repro(self, ctx, exc: Exception, settings: RunSettings) -> None:
        """This failure's repro bundle (``--repro``); a bundle that cannot be written is reported, not raised."""
        from ..core import repro
        from ..core.records import environment

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
                 "environment": environment([self.device.label], settings.datasets.name)}
        try:
            report = str(self.repr_failure(pytest.ExceptionInfo.from_exception(exc)))
            path = repro.write_bundle(settings.repro_dir, self.name, failure, facts, report)
            said = {"path": str(path), "recomputes": bool(failure and failure["expression"])}
        except Exception as problem:
            said = {"error": f"{type(problem).__name__}: {problem}"}
        self.user_properties.append(("refsuite_repro", json.dumps(said)))

    def _check(self, ctx, unit_timeout: float | None) -> None:
        """The unit's check, with torch's global state restored around it and under its time limit."""
        from ..core import (  # isolation imports torch: not at module level (see the package's docstring)
            isolation,
            timeouts,
        )

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
        path, line = self.unit.location
        return longrepr.failure(f"{head}{_bounded(self._replay_advice(body).rstrip())}\nrerun: {self.rerun_command()}",
                                path, line)

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

        settings = self.config.stash[STATE].settings
        words = ["refsuite", "run", "--device", shlex.quote(self.device.label)]
        for value, flag in ((settings.dataset, "--dataset"), (settings.data_root, "--data-root")):
            if value:
                words += [flag, shlex.quote(str(value))]
        if settings.profile != DEFAULT_PROFILE:
            words += ["--profile", settings.profile]
        if self.unit.requires.slow:
            words.append("--runslow")
        words += ["-k", f"'{self.unit.id}'"]
        if reproduce:
            words += ["--reproduce", shlex.quote(reproduce)]
        if settings.seed is not None:
            words += ["--", f"--hypothesis-seed={settings.seed}"]
        return " ".join(words)


class BrokenProviderItem(pytest.Item):
    """A provider that failed to load: one failing item carrying its traceback."""

    def __init__(self, *, provider: Provider, **kwargs) -> None:
        super().__init__(**kwargs)
        self.provider = provider

    def runtest(self) -> None:
        raise PluginError(f"refsuite plugin {self.provider.label} failed to load:\n{self.provider.error}")

    def repr_failure(self, excinfo, style=None):
        return longrepr.failure(str(excinfo.value), self.path, None)

    def reportinfo(self):
        return self.path, None, self.name


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    state = item.config.stash.get(STATE, None)
    strict = state is not None and state.settings.strict
    expected = getattr(item, "expected", None) if isinstance(item, UnitItem) else None
    if expected is not None and report.when == "call":
        _judge_expected(item, report, expected)
    reviewed_skip = expected is not None and expected.outcome == "skip"
    if (strict and isinstance(item, UnitItem) and report.skipped and not hasattr(report, "wasxfail")
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
        report.longrepr = longrepr.failure(said + (f"\n{report.longrepr}" if report.failed else ""),
                                           *item.unit.location)
        report.outcome = "failed"
    if stale is not None:
        report.refsuite_stale = expected.where  # a plain attribute: xdist carries it to the controller


