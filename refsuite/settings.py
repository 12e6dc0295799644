"""One run's settings, made once from pytest's options or the CLI's arguments and only read afterwards.

Both spellings go through the one table of options (:mod:`refsuite.options`): :func:`build` takes
their values by ``dest``, whether pytest's ``config.getoption`` or argparse's namespace gave them.
Every check of a value happens here, before any unit runs, so a bad setting stops the run whole.
"""
from __future__ import annotations

import dataclasses
import datetime
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from . import options
from .core.errors import UsageError
from .core.profiles import DEFAULT_PROFILE

if TYPE_CHECKING:
    from .core.budgets import Budget
    from .core.context import Context
    from .core.devices import Device
    from .core.discovery import Plugins
    from .core.manifests import Manifest
    from .datasets.base import DatasetSelection

#: the units' collector: a unit's node id is ``refsuite::<unit id>[<device>]``
NODE_ROOT = "refsuite"

_REPRODUCE = re.compile(r"^(\d+):([A-Za-z0-9+/]+=*)$")


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What a run of the units was asked to do, checked: devices resolved, dataset chosen, paths writable."""

    plugins: Plugins
    devices: tuple[Device, ...]
    datasets: DatasetSelection
    profile: str = DEFAULT_PROFILE
    #: --dataset and --data-root as given (None: the default), for the command that reruns a unit
    dataset: str | None = None
    data_root: str | None = None
    strict: bool = False
    runslow: bool = False
    #: --record, made absolute once known to be writable
    record: str | None = None
    #: --junitxml, as given (pytest writes it; `refsuite run` checks it before pytest starts)
    junitxml: str | None = None
    keyword: str | None = None
    #: the units named by node id, without the ``refsuite::`` root: ``tensors.seed.golden[cpu]``
    node_ids: tuple[str, ...] = ()
    #: the item names those node ids choose; None: every unit
    chosen: frozenset[str] | None = None
    #: (n, blob) from --reproduce: replay one failing example of the unit's n-th property
    reproduce: tuple[int, str] | None = None
    #: --unit-timeout in seconds (0: no limit); None: each unit's own limit, or the default
    unit_timeout: float | None = None
    #: --expect: the failures and skips reviewed as expected, per device type
    manifest: Manifest | None = None
    #: --repro: where each failing unit's repro bundle is written
    repro_dir: str | None = None
    #: hypothesis's --hypothesis-seed, as given
    seed: Any = None
    #: this process's share of the machine (threads, device) where refsuite sets it
    budget: Budget | None = None
    started: str = dataclasses.field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))

    def context(self, device: Device, tmp_path: Path, report: Callable[[str], None] | None = None) -> Context:
        """The context a unit's check receives on ``device`` (under a budget: this worker's device of its type);
        ``report``: where a line for the user goes at once (default: stderr)."""
        from .core.context import make_context

        return make_context(self.budget.device_for(device) if self.budget else device, tmp_path,
                            profile=self.profile, dataset=self.datasets, reproduce=self.reproduce,
                            capture_failures=self.repro_dir is not None, report=report)

    def describe(self) -> dict:
        """What this run chose, for its record: two records made under different settings are not like for like."""
        from .core.profiles import get_profile

        chosen = get_profile(self.profile)
        said = {
            "started": self.started,
            "hypothesis_profile": self.profile,
            "max_examples": chosen.max_examples,
            "derandomize": chosen.derandomize,
            # None with derandomize: the examples follow from each property; without: hypothesis drew a seed per test
            "seed": _number(self.seed),
            "keyword": self.keyword or None,
            "node_ids": [f"{NODE_ROOT}::{n}" for n in self.node_ids],
            "strict": self.strict,
            "runslow": self.runslow,
        }
        if self.manifest is not None:
            said["manifest"] = self.manifest.describe()
        if self.repro_dir is not None:
            said["repro_dir"] = self.repro_dir
        return said


def build(values: Mapping[str, Any], plugins: Plugins, *, node_ids: Sequence[str] = (), keyword: str | None = None,
          junitxml: str | None = None, seed: Any = None, budget: Budget | None = None) -> RunSettings:
    """The settings that ``values`` (each of :data:`options.RUN`'s values by its dest) choose, checked;
    a :class:`UsageError` for the first one that cannot be used."""
    from .core.records import check_writable

    record = str(check_writable(values["record"], "--record")) if values.get("record") else None
    devices = tuple(_devices(values, plugins, node_ids))
    reproduce = _reproduce(values.get("refsuite_reproduce"))
    unit_timeout = _seconds(values.get("unit_timeout"))
    manifest = _manifest(values.get("expect"), plugins)
    repro = values.get("repro")
    repro_dir = str(check_writable(repro, "--repro", directory=True)) if repro else None
    return RunSettings(
        plugins=plugins, devices=devices, datasets=_datasets(values, plugins),
        profile=values.get("refsuite_profile") or DEFAULT_PROFILE,
        dataset=values.get("dataset"), data_root=values.get("data_root"),
        strict=bool(values.get("strict_units")), runslow=bool(values.get("runslow")), record=record,
        junitxml=junitxml, keyword=keyword or None, node_ids=tuple(node_ids),
        chosen=choose(node_ids, plugins.units, devices) if node_ids else None, reproduce=reproduce,
        unit_timeout=unit_timeout, manifest=manifest, repro_dir=repro_dir, seed=seed, budget=budget)


def from_namespace(args, plugins: Plugins | None = None, node_ids: Sequence[str] = ()) -> RunSettings:
    """The settings that ``refsuite run``'s arguments choose (``plugins``: those discovered, by default)."""
    from .core.discovery import discover

    return build(options.values(lambda dest: getattr(args, dest, None)), plugins or discover(), node_ids=node_ids,
                 keyword=getattr(args, "keyword", None), junitxml=getattr(args, "junitxml", None))


def choose(named: Sequence[str], units, devices: Sequence[Device]) -> frozenset[str]:
    """The item names that node ids choose; a UsageError for one that names nothing in this run."""
    labels = [d.label for d in devices]
    chosen: set[str] = set()
    for name in named:
        unit_id, bracket, label = name.partition("[")
        label = label.removesuffix("]")
        if unit_id not in units:
            raise UsageError(f"{NODE_ROOT}::{name}: no unit {unit_id!r} (`refsuite list` shows the ids)")
        if bracket and label not in labels:
            raise UsageError(f"{NODE_ROOT}::{name}: device {label!r} is not in this run "
                             f"(running on {', '.join(labels)}; --device chooses)")
        unit_id = units.canonical(unit_id)
        chosen.update(f"{unit_id}[{lab}]" for lab in ([label] if bracket else labels))
    return frozenset(chosen)


def _devices(values: Mapping[str, Any], plugins: Plugins, node_ids: Sequence[str]) -> list[Device]:
    from .core.devices import resolve_devices

    # a node id's device is the run's device when --device does not say
    in_names = [n.partition("[")[2].removesuffix("]") for n in node_ids if "[" in n]
    return resolve_devices(values.get("device") or list(dict.fromkeys(in_names)), plugins.devices,
                           plugins.broken("refsuite.devices"))


def _datasets(values: Mapping[str, Any], plugins: Plugins) -> DatasetSelection:
    from .datasets.base import DatasetSelection

    return DatasetSelection.from_options(plugins.datasets, values.get("dataset"), values.get("data_root"),
                                         bool(values.get("download")), plugins.broken("refsuite.datasets"))


def _manifest(path: str | None, plugins: Plugins) -> Manifest | None:
    if not path:
        return None
    from .core.manifests import load_manifest

    return load_manifest(path, plugins.units, plugins.devices)


def _reproduce(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    match = _REPRODUCE.match(value)
    if not match or int(match[1]) < 1:
        raise UsageError(f"--reproduce {value!r}: expected N:BLOB, the property's number and hypothesis's "
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
        raise UsageError(f"--unit-timeout {value!r}: expected seconds, a number ≥ 0 (0: no limit)")
    return seconds


def _number(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return text
