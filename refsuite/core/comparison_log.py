"""What a unit compared, summarised: one entry per kind of comparison (its ``what``) with how many
were made, the largest absolute and relative errors, and the example where each occurred.

A property test makes the same comparison once per hypothesis example; records and JUnit reports
keep the summary, so their size does not grow with the number of examples.
"""
from __future__ import annotations

import math

#: distinct kinds kept per unit; any further kinds share one entry, so a record stays bounded
#: whatever a unit names its comparisons
MAX_KINDS = 32
OTHER = "(other comparisons)"
_WHERE_CHARS = 160
_METRICS = ("max_abs_err", "max_rel_err")


def _clip(text: str) -> str:
    return text if len(text) <= _WHERE_CHARS else text[: _WHERE_CHARS - 1] + "…"


class ComparisonLog:
    """Comparisons folded by ``what`` as they are made."""

    def __init__(self) -> None:
        self._entries: dict[str, dict] = {}

    def add(self, what: str, stats: dict, where: str = "", failed: bool = False) -> None:
        """One comparison's errors (``max_abs_err``, ``max_rel_err``) and where it was made;
        ``failed``: it was not close enough (counted in the entry's ``failed``)."""
        what = what or "(unnamed)"
        if what not in self._entries and len(self._entries) >= MAX_KINDS:
            what, where = OTHER, f"{what}: {where}" if where else what
        entry = self._entries.setdefault(what, {"what": what, "count": 0, "max_abs_err": 0.0, "max_rel_err": 0.0})
        entry["count"] += 1
        if failed:
            entry["failed"] = entry.get("failed", 0) + 1
        for key in _METRICS:
            value = float(stats[key])
            # a comparison that passed with NaN in it matched NaN with NaN (equal_nan): no error
            if math.isnan(value) or value <= entry[key]:
                continue
            entry[key] = value
            at = key.removesuffix("_err") + "_at"
            if where:
                entry[at] = _clip(where)
            else:
                entry.pop(at, None)

    def entries(self) -> list[dict]:
        """The summaries in the order first made; an ``*_at`` key only where that error is not zero
        (no ``max_rel_at`` when the largest relative error is where the largest absolute one is)."""
        out = []
        for entry in self._entries.values():
            entry = dict(entry)
            if entry.get("max_rel_at") is not None and entry.get("max_rel_at") == entry.get("max_abs_at"):
                del entry["max_rel_at"]
            out.append(entry)
        return out


def fold(comparisons: list[dict]) -> list[dict]:
    """Old records' one-entry-per-comparison lists, folded into the summary form."""
    log = ComparisonLog()
    for c in comparisons:
        log.add(str(c.get("what", "")), c, "")
    return log.entries()
