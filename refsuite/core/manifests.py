"""Known-failure manifests (``--expect FILE``): the outcomes a backend's maintainers reviewed and accept.

A manifest is TOML, one ``[[expect]]`` table per reviewed fact::

    [[expect]]
    device = "xla"                 # a device type: every xla device of the run
    units = ["models.conv.*"]      # unit ids or globs
    outcome = "fail"               # or "skip"
    reason = "conv2d lowering lacks dilation"
    link = "https://github.com/pytorch/xla/issues/0000"   # optional

It is strict both ways: a unit expected to fail that passes, or expected to be skipped that
runs, fails the run and names the entry to delete, so the file cannot outlive the faults it lists.
Everything is checked when the file is read, before any unit runs: a manifest that cannot be
trusted to say what it means is a usage error naming the file and the entry.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import re
import sys
from pathlib import Path
from typing import Iterable, Mapping

from .errors import DataError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before it joined the standard library
    import tomli as tomllib

OUTCOMES = ("fail", "skip")
_KEYS = ("device", "units", "outcome", "reason", "link")
#: what ``refsuite expect`` writes where a person has to say why; a manifest still holding it is
#: accepted (a run can go green while the triage goes on) but every run says which entries lack a reason
TODO = "TODO"
#: far beyond any reviewed list of units; reading more would be something other than a manifest
MAX_BYTES = 4 * 2**20
_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*expect[ \t]*\]\][ \t]*(#.*)?$")


@dataclasses.dataclass(frozen=True)
class Entry:
    path: str
    #: 1-based line of the entry's ``[[expect]]`` header; None for an inline table
    line: int | None
    #: 1-based position among the entries
    number: int
    device: str
    units: tuple[str, ...]
    outcome: str
    reason: str
    link: str | None = None

    @property
    def where(self) -> str:
        """How messages point at the entry: ``known.toml:12``, the line to delete."""
        return f"{self.path}:{self.line}" if self.line else f"{self.path} (entry {self.number})"

    @property
    def todo(self) -> bool:
        return self.reason.lstrip().upper().startswith(TODO)

    def describe(self) -> dict:
        """The entry as records and reports carry it (JSON)."""
        return {"outcome": self.outcome, "entry": self.where, "units": list(self.units), "reason": self.reason,
                "link": self.link}


@dataclasses.dataclass(frozen=True)
class Manifest:
    path: str
    #: of the bytes that were parsed: a record says exactly which manifest it ran under
    sha256: str
    entries: tuple[Entry, ...]
    #: (unit id, device type) -> the entry that expects an outcome of it
    expected: Mapping[tuple[str, str], Entry]

    def lookup(self, unit_id: str, device_type: str) -> Entry | None:
        return self.expected.get((unit_id, device_type))

    def todo(self) -> list[Entry]:
        return [e for e in self.entries if e.todo]

    def describe(self) -> dict:
        return {"path": self.path, "sha256": self.sha256}


def load_manifest(path: str | Path, units, device_types: Iterable[str], *, option: str = "--expect") -> Manifest:
    """The manifest at ``path``, each entry checked against the registered ``units`` (a Registry)
    and the device types refsuite's plugins know; a DataError naming the file and entry otherwise."""
    shown = str(path)
    data, text, raw = _read(path, option)
    headers = [i for i, line in enumerate(text.splitlines(), 1) if _HEADER.match(line)]
    lines = headers if len(headers) == len(raw) else [None] * len(raw)
    known_types = set(device_types)
    ids = [u.id for u in units]
    entries, expected = [], {}
    for number, (item, line) in enumerate(zip(raw, lines), 1):
        entry = _entry(shown, number, line, item, known_types)
        for pattern in entry.units:
            matched = _matching(pattern, ids, units)
            if not matched:
                raise DataError(f"{entry.where}: {pattern!r} names no unit (`refsuite list` shows the ids; a "
                                "unit of a plugin that is not installed here cannot be expected)")
            for unit_id in matched:
                earlier = expected.get((unit_id, entry.device))
                if earlier is not None and earlier is not entry:
                    raise DataError(f"{entry.where}: {unit_id} on {entry.device} is already expected at "
                                    f"{earlier.where}; a unit's outcome on a device type is stated once")
                expected[(unit_id, entry.device)] = entry
        entries.append(entry)
    return Manifest(shown, hashlib.sha256(data).hexdigest(), tuple(entries), expected)


def _read(path: str | Path, option: str) -> tuple[bytes, str, list[dict]]:
    """The manifest's bytes, its text and its [[expect]] tables, once it is a TOML file of tables."""
    shown = str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)  # one read: the bytes hashed are the bytes parsed
    except OSError as exc:
        raise DataError(f"{option} {shown}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise DataError(f"{option} {shown}: larger than {MAX_BYTES // 2**20} MB, more than a manifest; "
                        "is it the file you meant?")
    try:
        text = data.decode("utf-8")
        table = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise DataError(f"{option} {shown}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{option} {shown}: not TOML: {exc}") from None
    unknown = sorted(set(table) - {"expect"})
    if unknown:
        raise DataError(f"{option} {shown}: unknown top-level key {unknown[0]!r}; a manifest holds only "
                        "[[expect]] tables")
    raw = table.get("expect", [])
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        raise DataError(f"{option} {shown}: 'expect' must be an array of tables, each written [[expect]]")
    return data, text, raw


def _entry(path: str, number: int, line: int | None, item: dict, known_types: set) -> Entry:
    where = f"{path}:{line}" if line else f"{path} (entry {number})"
    unknown = sorted(set(item) - set(_KEYS))
    if unknown:
        raise DataError(f"{where}: unknown key {unknown[0]!r}; an entry has {', '.join(_KEYS)}")
    for key in ("device", "units", "outcome", "reason"):
        if key not in item:
            hint = {"reason": "say why the units are expected to fail or be skipped (reason = \"...\")",
                    "units": "units = [\"ids or globs\"]", "device": "device = \"a device type, e.g. cuda\"",
                    "outcome": "outcome = \"fail\" or \"skip\""}[key]
            raise DataError(f"{where}: no {key}: {hint}")
    device, units, outcome, reason, link = (item.get(k) for k in _KEYS)
    if not isinstance(device, str):
        raise DataError(f"{where}: device {device!r} must be a string, a device type such as \"cuda\"")
    problem = device_type_problem(device, known_types)
    if problem:
        raise DataError(f"{where}: device {device!r} {problem}")
    if isinstance(units, str) or not isinstance(units, list) or not units or not all(
            isinstance(u, str) and u for u in units):
        raise DataError(f"{where}: units {units!r} must be a non-empty list of unit ids or globs, "
                        "e.g. units = [\"models.conv.*\"]")
    if outcome not in OUTCOMES:
        raise DataError(f"{where}: outcome {outcome!r} must be \"fail\" or \"skip\"")
    if not isinstance(reason, str) or not reason.strip():
        raise DataError(f"{where}: reason {reason!r} must say, in words, why the units are expected to {outcome}")
    if link is not None and not isinstance(link, str):
        raise DataError(f"{where}: link {link!r} must be a string (a URL)")
    return Entry(path, line, number, device, tuple(units), outcome, reason.strip(), link)


def device_type_problem(name: str, known_types: set) -> str | None:
    """Why ``name`` is not a device type a manifest may name, or None.

    A manifest is shared between machines, so a type need not be available (or its plugin
    installed) here; it must be a type torch itself names (xla, hpu, mps... even without their
    backends) or one of refsuite's device plugins. That accepts every real backend and refuses a
    typo ("cdua"), which would otherwise silently expect nothing.
    """
    if name in known_types:
        return None
    import torch

    try:
        parsed = torch.device(name)
    except (RuntimeError, ValueError):
        return (f"is not a device type torch or an installed refsuite device plugin knows (known here: "
                f"{', '.join(sorted(known_types))}; torch also names xla, hpu, mps, privateuseone...)")
    if parsed.index is not None or parsed.type != name:
        return f"is a device, not a device type: write {parsed.type!r} (an entry covers every device of its type)"
    return None


def _matching(pattern: str, ids: list[str], units) -> list[str]:
    if pattern in units:  # an id, or the old id of a renamed unit
        return [units.canonical(pattern)]
    return [i for i in ids if fnmatch.fnmatchcase(i, pattern)]


def _device_type(label: str) -> str:
    return label.partition(":")[0]


def from_record(record: dict, source: str, device_type: str | None = None) -> str:
    """A manifest (TOML text) of the units that failed or were skipped on ``device_type`` in a
    record, one entry per unit. Reasons a manifest already gave are kept; the rest say TODO, with
    what the run saw, for a person to replace with why."""
    import json

    types = sorted({_device_type(r["device"]) for r in record["results"]})
    if device_type is None:
        if len(types) != 1:
            raise UsageError(f"{source} has results on {', '.join(types) or 'no device'}: "
                             "choose one device type with --device TYPE")
        device_type = types[0]
    elif device_type not in types:
        raise UsageError(f"--device {device_type}: the record has no results on that device type; it has "
                         f"{', '.join(types) or 'none'}")
    chosen: dict[str, tuple[str, str, str | None]] = {}
    for row in record["results"]:
        if _device_type(row["device"]) != device_type:
            continue
        expected = row.get("expected") if isinstance(row.get("expected"), dict) else {}
        if expected.get("stale"):  # it passed (or ran) against the manifest: nothing to expect
            continue
        outcome = {"failed": "fail", "xfailed": "fail", "skipped": "skip"}.get(row["outcome"])
        if outcome is None or chosen.get(row["unit"], ("",))[0] == "fail":
            continue
        reason, link = expected.get("reason"), expected.get("link")
        if not reason or expected.get("outcome") != outcome:
            seen = (row.get("reason") or "no reason recorded").strip()
            reason, link = f"{TODO}: why is it expected to {outcome} here? (the run saw: {seen[:200]})", None
        chosen[row["unit"]] = (outcome, reason, link)
    env = record.get("environment", {})
    lines = [f"# Failures and skips expected on {device_type}: written by `refsuite expect` from {source}",
             f"# (torch {env.get('torch', '?')}, started {record.get('run', {}).get('started', '?')}).",
             f"# Review every entry: replace each {TODO} reason with why the unit fails or is skipped here, and",
             "# add a link to the tracking issue. `refsuite run --expect FILE` accepts TODO reasons but names",
             "# them on every run; a listed unit that passes (or runs) fails the run until its entry is deleted."]
    if not chosen:
        lines.append(f"# Nothing failed or was skipped on {device_type}: there is nothing to expect.")
    for unit_id in sorted(chosen):
        outcome, reason, link = chosen[unit_id]
        lines += ["", "[[expect]]", f"device = {json.dumps(device_type)}", f"units = [{json.dumps(unit_id)}]",
                  f"outcome = {json.dumps(outcome)}", f"reason = {json.dumps(reason, ensure_ascii=False)}"]
        if link:
            lines.append(f"link = {json.dumps(link, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def _state(row: dict) -> str:
    """What a recorded unit did, whatever the manifest of its run said of it: passed, failed, skipped, ran."""
    expected = row.get("expected") if isinstance(row.get("expected"), dict) else {}
    if expected.get("stale"):
        return "passed" if expected.get("outcome") == "fail" else "ran"
    return "failed" if row["outcome"] in ("failed", "xfailed") else row["outcome"]


def changes_against(manifest: Manifest, a: dict, b: dict, aliases: Mapping[str, str] | None = None) -> tuple[list[str], bool]:
    """What B shows against the manifest, beside what changed since A; and whether B, judged by the
    manifest, is red (a failure it does not expect, or an entry B shows to be stale)."""
    aliases = aliases or {}

    def keyed(record):
        return {(aliases.get(r["unit"], r["unit"]), r["device"]): r for r in record["results"]}

    ra, rb = keyed(a), keyed(b)
    new_expected, new_unexpected, old_unexpected, fixed, ran, still = [], [], [], [], [], 0
    for key in sorted(rb):
        unit_id, label = key
        name = f"{unit_id}[{label}]"
        entry = manifest.lookup(unit_id, _device_type(label))
        now = _state(rb[key])
        before = _state(ra[key]) if key in ra else "absent"
        if now == "failed":
            if entry is not None and entry.outcome == "fail":
                if before == "failed":
                    still += 1
                else:
                    new_expected.append(f"  {name}: {before} -> failed, expected by {entry.where}")
            elif before == "failed":
                old_unexpected.append(f"  {name}: failed in A and B, not in the manifest")
            else:
                new_unexpected.append(f"  NEW {name}: {before} -> failed, not in the manifest "
                                      f"({rb[key].get('reason') or 'no reason recorded'})")
        if entry is not None and entry.outcome == "fail" and now == "passed":
            since = " (fixed since A)" if before == "failed" else ""
            fixed.append(f"  {name}: expected to fail by {entry.where}, passes in B{since}: delete the entry")
        if entry is not None and entry.outcome == "skip" and now not in ("skipped", "absent"):
            ran.append(f"  {name}: expected to be skipped by {entry.where}, runs in B: delete the entry")
    lines = [f"\nagainst the manifest {manifest.path}:",
             f"newly failing, not expected ({len(new_unexpected)}):", *(new_unexpected or ["  none"]),
             f"newly failing, expected ({len(new_expected)}):", *(new_expected or ["  none"]),
             f"expected failures that now pass ({len(fixed)}):", *(fixed or ["  none"])]
    if ran:
        lines += [f"expected skips that now run ({len(ran)}):", *ran]
    if old_unexpected:
        lines += [f"failing in both, not in the manifest ({len(old_unexpected)}):", *old_unexpected]
    lines.append(f"failing in both, as expected: {still}")
    red = bool(new_unexpected or old_unexpected or fixed or ran)
    lines.append("manifest verdict (the exit status with --expect): " + ("B is red under this manifest (a failure it does not expect, or an entry "
                                         "to delete)" if red else "B matches the manifest"))
    return lines, red
