"""What differs between two recorded runs (two torch releases, two devices), behind ``refsuite compare``:
a record read and checked (:func:`load_record`), two paired unit by unit (:func:`diff_records`), and
the report a person reads (:func:`render`)."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Mapping

from .comparison_log import fold
from .errors import DataError
from .records import RECORD_FORMAT, read_json

#: errors below this are float noise, not drift
_NOISE = 1e-12


def _number(value) -> bool:
    # JSON's true and false are bools, which Python counts as ints
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_error(value) -> bool:
    """An error against a reference: a number ≥ 0, inf (an overflow) or NaN (both are reported)."""
    return _number(value) and not value < 0


def _is_duration(value) -> bool:
    """pytest measures every duration: a finite number ≥ 0; anything else was not written by refsuite."""
    return _number(value) and math.isfinite(value) and value >= 0


def _optional_str(value) -> bool:
    return value is None or isinstance(value, str)


_ROW = {"unit": (lambda v: isinstance(v, str), "unit (a string)"),
        "device": (lambda v: isinstance(v, str), "device (a string)"),
        "outcome": (lambda v: isinstance(v, str), "outcome (a string)"),
        "duration_s": (_is_duration, "duration_s (a finite number of seconds ≥ 0)"),
        "reason": (_optional_str, "reason (a string)"),
        "comparisons": (lambda v: isinstance(v, list), "comparisons (a list)")}
_OPTIONAL = {"reason", "comparisons"}

#: what the report reads from "environment"; a missing one reads "?"
_ENVIRONMENT = {"torch": _optional_str, "torchvision": _optional_str, "python": _optional_str,
                "dataset": _optional_str,
                "devices": lambda v: v is None or (isinstance(v, list) and all(isinstance(d, str) for d in v))}


#: the run settings that make two records comparable, as the report names them
_SETTINGS = {"hypothesis_profile": "hypothesis profile", "max_examples": "examples per property",
             "derandomize": "derandomize", "seed": "hypothesis seed", "runslow": "--runslow"}


def load_record(path: str | Path) -> dict:
    """A record written by ``refsuite run --record``; a DataError naming what is wrong otherwise.

    Records of layout 1 (refsuite before run settings were recorded) are read too: their
    comparisons are folded into layout 2's summaries, and their settings are unknown ("run": {}).
    Every field the report reads is checked for its type first, so a hand-edited or foreign file is
    refused by name rather than misread.
    """
    data = read_json(path)
    refused = f"{path} is not a refsuite record (made by `refsuite run --record PATH`)"
    layout = _check_layout(data, path, refused)
    for i, row in enumerate(data["results"]):
        _check_row(row, f"{refused}: results[{i}]")
    if layout == 1:
        for row in data["results"]:
            row["comparisons"] = fold(row.get("comparisons", []))
    _check_environment(data["environment"], refused)
    return data


def _check_layout(data, path: str | Path, refused: str) -> int:
    """The record's layout, once its top level is an object refsuite can read; "run" defaults to {}."""
    if not isinstance(data, dict) or not isinstance(data.get("results"), list) or not isinstance(data.get("environment"), dict):
        raise DataError(f"{refused}: expected an object with 'environment' and 'results'")
    layout = data.setdefault("format", 1)
    if not isinstance(layout, int) or isinstance(layout, bool) or layout < 1:
        raise DataError(f"{refused}: 'format' is {_excerpt(layout)}, expected a layout number such as {RECORD_FORMAT}")
    if layout > RECORD_FORMAT:
        raise DataError(f"{path}: a record of layout {layout!r}, newer than this refsuite reads "
                        f"(up to {RECORD_FORMAT}); compare it with the refsuite that wrote it")
    run = data.setdefault("run", {})
    if not isinstance(run, dict):
        raise DataError(f"{refused}: 'run' is not an object")
    if not _optional_str(run.get("started")):
        raise DataError(f"{refused}: run.started is {_excerpt(run['started'])}, expected a time as a string")
    return layout


def _check_row(row, where: str) -> None:
    if not isinstance(row, dict):
        raise DataError(f"{where} is not an object")
    bad = [label for key, (valid, label) in _ROW.items() if not (valid(row[key]) if key in row else key in _OPTIONAL)]
    if bad:
        raise DataError(f"{where} lacks a valid {', '.join(bad)}")
    for j, c in enumerate(row.get("comparisons", [])):
        if not isinstance(c, dict) or not _optional_str(c.get("what")) or not all(
                _is_error(c.get(k)) for k in ("max_abs_err", "max_rel_err")):
            raise DataError(f"{where}.comparisons[{j}] is malformed: expected "
                            "'what' (a string) and 'max_abs_err', 'max_rel_err' (numbers ≥ 0, inf or NaN)")


def _check_environment(env: dict, refused: str) -> None:
    """Every field of "environment" the report reads is of its type; the missing ones read "?"."""
    for key, valid in _ENVIRONMENT.items():
        if not valid(env.get(key)):
            raise DataError(f"{refused}: environment.{key} is {_excerpt(env[key])}, expected "
                            + ("a list of device names" if key == "devices" else "a string"))
    for key in ("torch", "torchvision", "python"):
        env.setdefault(key, "?")
    env["devices"] = env.get("devices") or []


def _excerpt(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def settings_differences(a: dict, b: dict) -> list[str]:
    """How the two runs were made differently, beyond the software compared: the devices, the
    dataset, the hypothesis profile and seed. An older record's unknown settings are said to be so."""
    lines = []
    run_a, run_b = a.get("run") or {}, b.get("run") or {}
    for name, run in (("A", run_a), ("B", run_b)):
        if not run:
            lines.append(f"{name} is a layout-1 record (an older refsuite): its hypothesis profile "
                         "and seed were not recorded")
    ea, eb = a["environment"], b["environment"]
    for key, label in (("devices", "devices"), ("dataset", "dataset")):
        if ea.get(key) != eb.get(key):
            lines.append(f"{label}: {_shown(ea.get(key))} -> {_shown(eb.get(key))}")
    if run_a and run_b:
        for key, label in _SETTINGS.items():
            if run_a.get(key) != run_b.get(key):
                lines.append(f"{label}: {_shown(run_a.get(key))} -> {_shown(run_b.get(key))}")
    return lines


def _shown(value) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return "none" if value is None else str(value)


def _paired_errors(x: dict, y: dict, key: str) -> tuple[float, float] | None:
    """The largest ``key`` error in each run over the kinds of comparison both runs made, or None
    when they made none in common (a unit that crashed, or skipped, in one of them compared nothing)."""
    kinds_x = {c.get("what"): c[key] for c in x.get("comparisons", [])}
    kinds_y = {c.get("what"): c[key] for c in y.get("comparisons", [])}
    common = kinds_x.keys() & kinds_y.keys()
    if not common:
        return None
    return _largest(kinds_x[k] for k in common), _largest(kinds_y[k] for k in common)


def _largest(values) -> float:
    """The largest error, NaN when any is NaN (``max`` would keep or drop a NaN by its position)."""
    values = list(values)
    return math.nan if any(math.isnan(v) for v in values) else max(values)


def _same(x: float, y: float) -> bool:
    return x == y or (math.isnan(x) and math.isnan(y))


@dataclasses.dataclass(frozen=True)
class OutcomeChange:
    name: str
    before: str
    after: str
    reason: str | None

    @property
    def regression(self) -> bool:
        return self.before == "passed" and self.after == "failed"


@dataclasses.dataclass(frozen=True)
class ErrorMove:
    """An error against a reference that moved beyond the factor, or to or from NaN or inf."""

    name: str
    metric: str
    before: float
    after: float

    @property
    def finite(self) -> bool:
        return math.isfinite(self.before) and math.isfinite(self.after)

    @property
    def ratio(self) -> float:
        return (self.after + _NOISE) / (self.before + _NOISE)


@dataclasses.dataclass(frozen=True)
class TimeMove:
    name: str
    before: float
    after: float

    @property
    def ratio(self) -> float:
        return self.after / max(self.before, 1e-9)


@dataclasses.dataclass
class RecordDiff:
    """What differs between records A and B, unit by unit, before it is put into words."""

    factor: float
    time_factor: float
    outcomes: list[OutcomeChange]
    errors: list[ErrorMove]
    times: list[TimeMove]
    only_a: list[tuple[str, str]]
    only_b: list[tuple[str, str]]
    #: old unit ids paired under their new ones, with the new id
    renamed: list[tuple[str, str]]
    total_a: float
    total_b: float

    @property
    def regressed(self) -> bool:
        """A unit that passed in A fails in B."""
        return any(change.regression for change in self.outcomes)

    @property
    def not_finite(self) -> int:
        """Errors that became NaN or inf in B."""
        return sum(not math.isfinite(move.after) for move in self.errors)


def compare_records(a: dict, b: dict, *, factor: float = 10.0, time_factor: float = 2.0,
                    aliases: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """The report, and whether B regressed (a unit that passed in A fails in B).

    ``aliases`` maps old unit ids to current ones, so a unit renamed between the two runs pairs up.
    """
    diff = diff_records(a, b, factor=factor, time_factor=time_factor, aliases=aliases)
    return render(diff, a, b), diff.regressed


def diff_records(a: dict, b: dict, *, factor: float = 10.0, time_factor: float = 2.0,
                 aliases: Mapping[str, str] | None = None) -> RecordDiff:
    """Pair the two records' results by (unit, device) and keep what moved beyond the factors."""
    aliases = aliases or {}
    ra, rb = _by_key(a, aliases), _by_key(b, aliases)
    outcomes, errors, times = [], [], []
    for key in sorted(ra.keys() & rb.keys()):
        x, y = ra[key], rb[key]
        name = f"{key[0]}[{key[1]}]"
        if x["outcome"] != y["outcome"]:
            outcomes.append(OutcomeChange(name, x["outcome"], y["outcome"], y.get("reason")))
        errors += _error_moves(name, x, y, factor)
        if x["duration_s"] > 0.05 or y["duration_s"] > 0.05:
            move = TimeMove(name, x["duration_s"], y["duration_s"])
            if move.ratio > time_factor or move.ratio < 1 / time_factor:
                times.append(move)
    renamed = sorted({r["unit"] for r in a["results"] + b["results"] if r["unit"] in aliases})
    return RecordDiff(factor, time_factor, outcomes, errors, times, only_a=sorted(ra.keys() - rb.keys()),
                      only_b=sorted(rb.keys() - ra.keys()), renamed=[(old, aliases[old]) for old in renamed],
                      total_a=sum(r["duration_s"] for r in ra.values()),
                      total_b=sum(r["duration_s"] for r in rb.values()))


def _by_key(record: dict, aliases: Mapping[str, str]) -> dict:
    return {(aliases.get(r["unit"], r["unit"]), r["device"]): r for r in record["results"]}


def _error_moves(name: str, x: dict, y: dict, factor: float) -> list[ErrorMove]:
    moves = []
    for metric in ("max_abs_err", "max_rel_err"):
        paired = _paired_errors(x, y, metric)
        if paired is None:
            continue
        move = ErrorMove(name, metric, *paired)
        if not move.finite:
            # NaN or inf is no ratio, and never float noise: listed whenever it changed
            if not _same(move.before, move.after):
                moves.append(move)
        elif max(paired) > _NOISE and (move.ratio > factor or move.ratio < 1 / factor):
            moves.append(move)
    return moves


def render(diff: RecordDiff, a: dict, b: dict) -> str:
    """The report a person reads: the two runs, then what changed, section by section, then the verdict."""
    lines = _header(a, b)
    lines.append(f"\noutcome changes ({len(diff.outcomes)}):")
    lines += [_outcome_line(c) for c in diff.outcomes] or ["  none"]
    lines.append(f"\nerrors against references that moved by more than ×{diff.factor:g} ({len(diff.errors)}):")
    lines += [_error_line(m) for m in diff.errors] or ["  none"]
    lines.append(f"\nunits in one run only: {len(diff.only_a)} only in A, {len(diff.only_b)} only in B")
    lines += [f"  only A: {u}[{d}]" for u, d in diff.only_a] + [f"  only B: {u}[{d}]" for u, d in diff.only_b]
    lines += [f"  paired under its new id: {old} -> {new}" for old, new in diff.renamed]
    lines.append(f"\ntimes: total {diff.total_a:.2f}s -> {diff.total_b:.2f}s "
                 f"(×{diff.total_b / max(diff.total_a, 1e-9):.2f}); units beyond ×{diff.time_factor:g}: {len(diff.times)}")
    lines += [f"  {m.name}: {m.before:.3f}s -> {m.after:.3f}s (×{m.ratio:.2f})" for m in diff.times]
    lines.append("\nverdict: " + _verdict(diff))
    return "\n".join(lines)


def _header(a: dict, b: dict) -> list[str]:
    """Each run's software, and a warning when the two were made under different settings."""
    lines = [f"{name}: torch {e['torch']}, torchvision {e['torchvision']}, python {e['python']}, "
             f"devices {','.join(e['devices'])}{_profile(r)}"
             for name, r, e in (("A", a, a["environment"]), ("B", b, b["environment"]))]
    differ = settings_differences(a, b)
    if differ:
        lines.append("\nWARNING: the two runs were made under different settings, so their errors and times "
                     "may differ for that reason alone:")
        lines += [f"  {line}" for line in differ]
    return lines


def _outcome_line(change: OutcomeChange) -> str:
    why = f" ({change.reason})" if change.reason else ""
    return f"  {'REGRESSION ' if change.regression else ''}{change.name}: {change.before} -> {change.after}{why}"


def _error_line(move: ErrorMove) -> str:
    how = f"×{move.ratio:.3g}" if move.finite else "not finite"
    return f"  {move.name}: {move.metric} {move.before:.3g} -> {move.after:.3g} ({how})"


def _verdict(diff: RecordDiff) -> str:
    verdict = "REGRESSION (a unit that passed in A fails in B)" if diff.regressed else "no outcome regression"
    if diff.not_finite:
        verdict += f"; {diff.not_finite} error{'s' if diff.not_finite > 1 else ''} became NaN or inf in B (listed above)"
    return verdict


def _profile(record: dict) -> str:
    run = record.get("run")
    if not run:
        return ""
    started = f", started {run['started']}" if run.get("started") else ""
    return f", profile {run.get('hypothesis_profile')}{started}"
