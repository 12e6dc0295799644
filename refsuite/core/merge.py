"""Records from several hosts, devices or ranks in one table, behind ``refsuite merge``: each unit's
outcome per host/device, its worst error, and the units that fail on some of them only.

The merged record is a record like any other (``refsuite compare`` reads it): its rows keep their
unit and outcome, and their ``device`` becomes the column's ``host/device`` label, so two merged
records pair unit by unit and column by column.
"""
from __future__ import annotations

import math
from pathlib import Path

from .record_diff import load_record
from .records import RECORD_FORMAT

_SHOWN = {"passed": "pass", "failed": "FAIL", "error": "ERROR", "skipped": "skip", "xfailed": "xfail"}
_FAILED = ("failed", "error")
#: environment facts a merged record keeps when every record agrees, else lists as "mixed"
_FACTS = ("torch", "torchvision", "python", "dataset")


def _host(record: dict, path: str) -> str:
    # records written before hosts were recorded are named by their file
    return record["environment"].get("host") or Path(path).stem


def merge(paths: list[str]) -> dict:
    """One record holding every row of the records at ``paths``, each under its ``host/device`` column."""
    records = [(str(p), load_record(p)) for p in paths]
    hosts = [_host(r, p) for p, r in records]
    if len(set(hosts)) < len(hosts):  # two runs on one host: tell them apart by their files
        hosts = [f"{h}:{Path(p).stem}" for h, (p, _) in zip(hosts, records)]
    rows, columns, sources = [], [], []
    for host, (path, record) in zip(hosts, records):
        for row in record["results"]:
            label = f"{host}/{row['device']}"
            rows.append({**row, "device": label, "host": host})
            if label not in columns:
                columns.append(label)
        env = record["environment"]
        sources.append({"path": path, "host": host, "devices": env["devices"], **{k: env.get(k) for k in _FACTS}})
    environment = {"host": "merged", "devices": columns, "platform": "merged"}
    for key in _FACTS:
        seen = sorted({str(s[key]) for s in sources})
        environment[key] = seen[0] if len(seen) == 1 else "mixed: " + ", ".join(seen)
    run = {**records[0][1].get("run", {}), "merged_from": sources}
    return {"format": RECORD_FORMAT, "environment": environment, "run": run, "results": rows}


def _worst(row: dict) -> float | None:
    errors = [c.get("max_abs_err") for c in row.get("comparisons", [])]
    errors = [e for e in errors if isinstance(e, (int, float))]
    return max(errors, key=lambda e: math.inf if math.isnan(e) else e) if errors else None


def table(merged: dict) -> tuple[list[str], bool]:
    """The table (unit × host/device → outcome, and the worst error), the units failing on some
    columns only, and whether any unit failed anywhere."""
    columns = merged["environment"]["devices"]
    cells: dict[str, dict[str, dict]] = {}
    for row in merged["results"]:
        cells.setdefault(row["unit"], {})[row["device"]] = row
    width = max([len(u) for u in cells] + [4])
    lines = [f"{'unit':<{width}}  " + "  ".join(f"{c:>{max(len(c), 5)}}" for c in columns) + "  worst error"]
    partly, failed = [], False
    for unit in sorted(cells):
        by = cells[unit]
        shown = [_SHOWN.get(by[c]["outcome"], by[c]["outcome"]) if c in by else "-" for c in columns]
        worst = [(e, c) for c in columns if c in by and (e := _worst(by[c])) is not None]
        error = max(worst, key=lambda w: math.inf if math.isnan(w[0]) else w[0]) if worst else None
        lines.append(f"{unit:<{width}}  " + "  ".join(f"{s:>{max(len(c), 5)}}" for s, c in zip(shown, columns))
                     + (f"  {error[0]:.3g} ({error[1]})" if error else ""))
        bad = [c for c in columns if c in by and by[c]["outcome"] in _FAILED]
        good = [c for c in columns if c in by and by[c]["outcome"] == "passed"]
        failed = failed or bool(bad)
        if bad and good:
            reason = (by[bad[0]].get("reason") or "").splitlines()[0][:160] if by[bad[0]].get("reason") else ""
            partly.append(f"  {unit}: fails on {', '.join(bad)} only (passes on {', '.join(good)})"
                          + (f": {reason}" if reason else ""))
    if partly:
        lines += ["", "units that fail on some hosts/devices only:", *partly]
    return lines, failed


__all__ = ["merge", "table"]
