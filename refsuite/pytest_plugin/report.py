"""What a run reports: its header, unit outcomes collected, the terminal summary (each part computed,
then rendered), the record, JUnit classnames."""
from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import pytest

from .._version import __version__
from ..core import interrupts
from .state import BUDGET, STATE, RunState

if TYPE_CHECKING:
    from ..core.manifests import Manifest
    from ..settings import RunSettings

_OUTCOMES = ("passed", "failed", "skipped", "xfailed")


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE, None)
    budget = config.stash.get(BUDGET, None)
    devices = list(state.settings.devices) if state else []
    budget_line = [f"refsuite budget: {budget.describe(devices)}"] if budget else []
    if state is None:
        return [f"refsuite {__version__}: units not collected (use --device or --units)", *budget_line]
    return _header(state.settings) + budget_line


def _header(settings: RunSettings) -> list[str]:
    import torch

    from ..core.devices import availability

    lines = [f"refsuite {__version__}: torch {torch.__version__}, python {sys.version.split()[0]}"]
    facts = []
    for name, kind in settings.plugins.devices.items():
        available, problem = availability(kind)
        facts.append(f"{name} ({'available' if available else 'not available'}{': ' + problem if problem else ''})")
    lines.append("refsuite devices known: " + ", ".join(facts))
    lines.append(
        f"refsuite running on: {', '.join(d.label for d in settings.devices)}; "
        f"{len(settings.plugins.units)} units; dataset {settings.datasets.name}; hypothesis profile {settings.profile}"
    )
    if settings.plugins.failures:
        lines.append("refsuite plugins that failed to load: " + ", ".join(p.label for p in settings.plugins.failures))
    return lines


class Reporter:
    """Collects unit outcomes and prints the per-section summary; registered only when units run."""

    def __init__(self, state: RunState, config: pytest.Config) -> None:
        self.state = state
        self.config = config
        #: the item running now, named when an interrupt stops the run (a hung unit, say)
        self.running: str | None = None

    @property
    def settings(self) -> RunSettings:
        return self.state.settings

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
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.state.results.append(_row(report, props, meta))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        tr, results = terminalreporter, self.state.results
        _render_plugins(tr, self.settings.plugins.failures)
        if results:
            tr.write_sep("=", "refsuite: units by section")
            _render_sections(tr, _section_counts(results), self.settings.manifest is not None)
            _render_units(tr, results, self.settings)
        if interrupts.received():  # said even when no unit finished: the one running is then the whole story
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
        if self.settings.plugins.failures and session.exitstatus in (pytest.ExitCode.OK,
                                                                     pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.settings.record and not _write_record(self.settings, self.state.results):
            # the run's summary still prints; the verdict is a failure
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _row(report: pytest.TestReport, props: dict, meta: dict) -> dict:
    """One unit's outcome as its record keeps it."""
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
    return row


def _write_record(settings: RunSettings, results: list) -> bool:
    """The run's record written to --record; False (said on stderr) where it could not be."""
    from ..core.records import RECORD_FORMAT, OutputError, environment, write_json

    env = environment([d.label for d in settings.devices], settings.datasets.name)
    env["broken_providers"] = [p.label for p in settings.plugins.failures]
    run = settings.describe()
    if interrupts.received():
        run["interrupted"] = interrupts.describe()
    try:
        write_json(settings.record, {"format": RECORD_FORMAT, "environment": env, "run": run, "results": results})
    except OutputError as exc:
        sys.stderr.write(f"refsuite: {exc}\n")
        return False
    return True


def _render_plugins(tr, failures: list) -> None:
    for provider in failures:
        tr.write_line(f"refsuite: FAILED {provider.label}: {provider.error.strip().splitlines()[-1]}", red=True)
    if failures:
        tr.write_line("refsuite: a plugin that fails to load fails the run, whatever -k selects "
                      "(`refsuite doctor` shows the traceback)", red=True)


def _section_counts(results: list) -> list[tuple[str, dict]]:
    """Per section, in the tutorial's order (then others by name): how many units had each outcome."""
    from ..core.registry import SECTIONS

    seen = {r["section"] for r in results}
    order = [s for s in SECTIONS if s in seen] + sorted(seen - set(SECTIONS))
    return [(section, {k: sum(r["outcome"] == k for r in results if r["section"] == section) for k in _OUTCOMES})
            for section in order]


def _render_sections(tr, counts: list[tuple[str, dict]], with_expected: bool) -> None:
    """One line per section: how many units passed, failed, were skipped (and expected to fail)."""
    expected = f"{'expected':>10}" if with_expected else ""
    tr.write_line(f"{'section':<14}{'passed':>8}{'failed':>8}{'skipped':>9}{expected}")
    for section, count in counts:
        expected = f"{count['xfailed']:>10}" if with_expected else ""
        tr.write_line(f"{section:<14}{count['passed']:>8}{count['failed']:>8}{count['skipped']:>9}{expected}")


def _render_units(tr, results: list, settings: RunSettings) -> None:
    """The units that did not simply pass, each with its reason, and the repro bundles written."""
    for r in results:
        if r["outcome"] == "skipped":
            reviewed = f" (expected: {r['expected']['entry']})" if "expected" in r else ""
            tr.write_line(f"  skipped {r['unit']}[{r['device']}]: {r['reason']}{reviewed}", yellow=True)
    if settings.manifest is not None:
        _render_manifest(tr, settings.manifest, results)
    for r in results:
        if r["outcome"] == "failed":
            tr.write_line(f"  FAILED {r['unit']}[{r['device']}]: {r['reason']}", red=True)
    bundles = [r for r in results if r.get("repro")]
    if bundles:
        tr.write_line(f"refsuite: repro bundles ({len(bundles)}) in {settings.repro_dir}:")
        for r in bundles:
            said = r["repro"].get("path") or f"not written: {r['repro'].get('error')}"
            tr.write_line(f"  {r['unit']}[{r['device']}]: {said}", red="error" in r["repro"])


def _stale_entries(results: list) -> dict:
    """The manifest's entries that expected what did not happen: (entry, outcome) -> the items."""
    stale: dict = {}
    for r in results:
        if r.get("expected", {}).get("stale"):
            stale.setdefault((r["expected"]["entry"], r["expected"]["outcome"]), []).append(f"{r['unit']}[{r['device']}]")
    return stale


def _render_manifest(tr, manifest: Manifest, results: list) -> None:
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
    for (entry, outcome), names in _stale_entries(results).items():
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
