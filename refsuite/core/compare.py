"""``refsuite compare A.json B.json``: what differs between two recorded runs (two torch releases, two devices)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping

from .comparisons import fold
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
    """A record written by ``refsuite run --record``; ValueError naming what is wrong otherwise.

    Records of layout 1 (refsuite before run settings were recorded) are read too: their
    comparisons are folded into layout 2's summaries, and their settings are unknown ("run": {}).
    Every field the report reads is checked for its type first, so a hand-edited or foreign file is
    refused by name rather than misread.
    """
    data = read_json(path)
    hint = "is not a refsuite record (made by `refsuite run --record PATH`)"
    if not isinstance(data, dict) or not isinstance(data.get("results"), list) or not isinstance(data.get("environment"), dict):
        raise ValueError(f"{path} {hint}: expected an object with 'environment' and 'results'")
    layout = data.setdefault("format", 1)
    if not isinstance(layout, int) or isinstance(layout, bool) or layout < 1:
        raise ValueError(f"{path} {hint}: 'format' is {_excerpt(layout)}, expected a layout number such as "
                         f"{RECORD_FORMAT}")
    if layout > RECORD_FORMAT:
        raise ValueError(f"{path}: a record of layout {layout!r}, newer than this refsuite reads "
                         f"(up to {RECORD_FORMAT}); compare it with the refsuite that wrote it")
    run = data.setdefault("run", {})
    if not isinstance(run, dict):
        raise ValueError(f"{path} {hint}: 'run' is not an object")
    if not _optional_str(run.get("started")):
        raise ValueError(f"{path} {hint}: run.started is {_excerpt(run['started'])}, expected a time as a string")
    for i, row in enumerate(data["results"]):
        if not isinstance(row, dict):
            raise ValueError(f"{path} {hint}: results[{i}] is not an object")
        bad = [label for key, (valid, label) in _ROW.items()
               if not (valid(row[key]) if key in row else key in _OPTIONAL)]
        if bad:
            raise ValueError(f"{path} {hint}: results[{i}] lacks a valid {', '.join(bad)}")
        for j, c in enumerate(row.get("comparisons", [])):
            if not isinstance(c, dict) or not _optional_str(c.get("what")) or not all(
                    _is_error(c.get(k)) for k in ("max_abs_err", "max_rel_err")):
                raise ValueError(f"{path} {hint}: results[{i}].comparisons[{j}] is malformed: expected "
                                 "'what' (a string) and 'max_abs_err', 'max_rel_err' (numbers ≥ 0, inf or NaN)")
    if layout == 1:
        for row in data["results"]:
            row["comparisons"] = fold(row.get("comparisons", []))
    env = data["environment"]
    for key, valid in _ENVIRONMENT.items():
        if not valid(env.get(key)):
            raise ValueError(f"{path} {hint}: environment.{key} is {_excerpt(env[key])}, expected "
                             + ("a list of device names" if key == "devices" else "a string"))
    for key in ("torch", "torchvision", "python"):
        env.setdefault(key, "?")
    env["devices"] = env.get("devices") or []
    return data


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


def compare_records(a: dict, b: dict, *, factor: float = 10.0, time_factor: float = 2.0,
                    aliases: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """The report, and whether B regressed (a unit that passed in A fails in B).

    ``aliases`` maps old unit ids to current ones, so a unit renamed between the two runs pairs up.
    """
    aliases = aliases or {}
    ra = {(aliases.get(r["unit"], r["unit"]), r["device"]): r for r in a["results"]}
    rb = {(aliases.get(r["unit"], r["unit"]), r["device"]): r for r in b["results"]}
    renamed = sorted({r["unit"] for r in a["results"] + b["results"] if r["unit"] in aliases})
    ea, eb = a["environment"], b["environment"]
    lines = [f"{name}: torch {e['torch']}, torchvision {e['torchvision']}, python {e['python']}, "
             f"devices {','.join(e['devices'])}{_profile(r)}" for name, r, e in (("A", a, ea), ("B", b, eb))]
    differ = settings_differences(a, b)
    if differ:
        lines.append("\nWARNING: the two runs were made under different settings, so their errors and times "
                     "may differ for that reason alone:")
        lines += [f"  {line}" for line in differ]
    regressed = False
    changes, errors, times = [], [], []
    not_finite = 0
    for key in sorted(ra.keys() & rb.keys()):
        x, y = ra[key], rb[key]
        name = f"{key[0]}[{key[1]}]"
        if x["outcome"] != y["outcome"]:
            bad = x["outcome"] == "passed" and y["outcome"] == "failed"
            regressed |= bad
            why = f" ({y['reason']})" if y.get("reason") else ""
            changes.append(f"  {'REGRESSION ' if bad else ''}{name}: {x['outcome']} -> {y['outcome']}{why}")
        for metric in ("max_abs_err", "max_rel_err"):
            paired = _paired_errors(x, y, metric)
            if paired is None:
                continue
            ex, ey = paired
            if not (math.isfinite(ex) and math.isfinite(ey)):
                # NaN or inf is no ratio, and never float noise: listed whenever it changed
                if not _same(ex, ey):
                    errors.append(f"  {name}: {metric} {ex:.3g} -> {ey:.3g} (not finite)")
                    not_finite += not math.isfinite(ey)
                continue
            if max(paired) <= _NOISE:
                continue
            ratio = (ey + _NOISE) / (ex + _NOISE)
            if ratio > factor or ratio < 1 / factor:
                errors.append(f"  {name}: {metric} {ex:.3g} -> {ey:.3g} (×{ratio:.3g})")
        if x["duration_s"] > 0.05 or y["duration_s"] > 0.05:
            ratio = y["duration_s"] / max(x["duration_s"], 1e-9)
            if ratio > time_factor or ratio < 1 / time_factor:
                times.append(f"  {name}: {x['duration_s']:.3f}s -> {y['duration_s']:.3f}s (×{ratio:.2f})")
    lines.append(f"\noutcome changes ({len(changes)}):")
    lines += changes or ["  none"]
    lines.append(f"\nerrors against references that moved by more than ×{factor:g} ({len(errors)}):")
    lines += errors or ["  none"]
    only_a = sorted(ra.keys() - rb.keys())
    only_b = sorted(rb.keys() - ra.keys())
    lines.append(f"\nunits in one run only: {len(only_a)} only in A, {len(only_b)} only in B")
    lines += [f"  only A: {u}[{d}]" for u, d in only_a] + [f"  only B: {u}[{d}]" for u, d in only_b]
    lines += [f"  paired under its new id: {old} -> {aliases[old]}" for old in renamed]
    total_a = sum(r["duration_s"] for r in ra.values())
    total_b = sum(r["duration_s"] for r in rb.values())
    lines.append(f"\ntimes: total {total_a:.2f}s -> {total_b:.2f}s (×{total_b / max(total_a, 1e-9):.2f}); units beyond ×{time_factor:g}: {len(times)}")
    lines += times
    verdict = "REGRESSION (a unit that passed in A fails in B)" if regressed else "no outcome regression"
    if not_finite:
        verdict += f"; {not_finite} error{'s' if not_finite > 1 else ''} became NaN or inf in B (listed above)"
    lines.append("\nverdict: " + verdict)
    return "\n".join(lines), regressed


def _profile(record: dict) -> str:
    run = record.get("run")
    if not run:
        return ""
    started = f", started {run['started']}" if run.get("started") else ""
    return f", profile {run.get('hypothesis_profile')}{started}"
