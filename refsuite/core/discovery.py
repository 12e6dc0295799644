"""Finding units, devices, datasets and benchmark variants through entry points of installed
distributions.

Three phases, as flake8 does: find the entry points in the installed metadata, load each
with its failure captured, then classify what loaded into a registry, device types, datasets
and benchmark variants. Built-ins come through the same groups, so a provider that fails to import is
reported by name with its traceback and the others still load.
"""
from __future__ import annotations

import dataclasses
import functools
import traceback
from importlib import metadata
from typing import Any

from . import interrupts
from .devices import DeviceType
from .registry import DATASET_CAPABILITIES, Registry

GROUPS = ("refsuite.units", "refsuite.devices", "refsuite.datasets", "refsuite.bench_variants")


@dataclasses.dataclass
class Provider:
    """One entry point, and either what it loaded or the error it raised."""

    group: str
    name: str
    value: str
    dist: str
    loaded: Any = None
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.group}:{self.name} ({self.dist})"


@dataclasses.dataclass
class Plugins:
    units: Registry
    devices: dict[str, DeviceType]
    datasets: dict[str, Any]
    #: benchmark variants by name (``refsuite bench``); each provider exports an iterable of them
    variants: dict[str, Any]
    providers: list[Provider]

    @property
    def failures(self) -> list[Provider]:
        return [p for p in self.providers if p.error is not None]

    def culprit(self, exc: BaseException) -> str:
        """Who raised ``exc``, as a person names it: the plugin whose code the innermost frame of its
        traceback belongs to (a provider's top-level package, refsuite's own excepted), if any."""
        packages = {p.value.split(":")[0].split(".")[0]: p for p in self.providers}
        packages.pop("refsuite", None)
        owner, tb = None, exc.__traceback__
        while tb is not None:
            module = tb.tb_frame.f_globals.get("__name__", "")
            owner = packages.get(module.split(".")[0], owner)
            tb = tb.tb_next
        return f"plugin {owner.label}" if owner is not None else "code refsuite called"

    def broken(self, group: str) -> dict[str, str]:
        """The providers of ``group`` that failed to load: entry-point name -> the error's last line,
        so that asking for one by name says why it is missing, not that it is unknown."""
        return {p.name: p.error.strip().splitlines()[-1] for p in self.failures if p.group == group}


def find_providers(groups=GROUPS) -> list[Provider]:
    """Entry points in the given groups, refsuite's own first, each listed once."""
    found: dict[tuple, Provider] = {}
    for group in groups:
        for ep in metadata.entry_points(group=group):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "unknown distribution"
            # A distribution seen twice on sys.path (e.g. a source tree beside its install) counts once.
            found.setdefault((group, ep.name, ep.value), Provider(group, ep.name, ep.value, dist))
    return sorted(found.values(), key=lambda p: (GROUPS.index(p.group), not p.dist.startswith("refsuite "), p.name))


def _load(provider: Provider) -> None:
    try:
        provider.loaded = metadata.EntryPoint(provider.name, provider.value, provider.group).load()
    except KeyboardInterrupt:
        # the user's Ctrl-C stops everything; one the plugin raised itself is the plugin's failure
        if not interrupts.raised_by_code():
            raise
        provider.error = traceback.format_exc()
    except (Exception, SystemExit):  # a plugin calling sys.exit() on import is a broken plugin, not an exit
        provider.error = traceback.format_exc()


def classify(providers: list[Provider]) -> Plugins:
    registry = Registry()
    devices: dict[str, DeviceType] = {}
    datasets: dict[str, Any] = {}
    variants: dict[str, Any] = {}
    variant_owners: dict[str, str] = {}
    for provider in providers:
        if provider.loaded is None and provider.error is None:
            _load(provider)
        if provider.error is not None:
            continue
        try:
            if provider.group == "refsuite.units":
                registry.add(provider.loaded, provider.label)
            elif provider.group == "refsuite.devices":
                _add_named(devices, provider, DeviceType)
            elif provider.group == "refsuite.datasets":
                _check_dataset_capabilities(provider.loaded)
                _add_named(datasets, provider, None)
            else:
                _add_many(variants, variant_owners, provider)
        except Exception as exc:
            provider.error = f"{type(exc).__name__}: {exc}"
    return Plugins(registry, devices, datasets, variants, providers)


def _add_named(into: dict, provider: Provider, kind: type | None) -> None:
    obj = provider.loaded
    if kind is not None and not isinstance(obj, kind):
        raise TypeError(f"{provider.value} is {obj!r}, not a refsuite {kind.__name__}")
    if getattr(obj, "name", provider.name) != provider.name:
        raise ValueError(f"entry point {provider.name!r} names an object called {obj.name!r}; they must match")
    if provider.name in into:
        raise ValueError(f"{provider.name!r} is already provided by another plugin; refusing the second one")
    into[provider.name] = obj


def _check_dataset_capabilities(dataset: Any) -> None:
    unknown = sorted(set(getattr(dataset, "capabilities", ())) - set(DATASET_CAPABILITIES))
    if unknown:
        raise ValueError(f"dataset {getattr(dataset, 'name', dataset)!r} declares unknown capabilities {unknown}; "
                         f"known: {sorted(DATASET_CAPABILITIES)}")


def _add_many(into: dict, owners: dict, provider: Provider) -> None:
    """Every named object one provider exports, or none of them if a name is taken."""
    incoming = {}
    for obj in provider.loaded:
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{provider.value} exported {obj!r}, which has no name")
        if name in into or name in incoming:
            owner = owners.get(name, provider.label)
            raise ValueError(f"{name!r} is provided by {owner} and again by {provider.label}; refusing the second one")
        incoming[name] = obj
    into.update(incoming)
    owners.update(dict.fromkeys(incoming, provider.label))


@functools.lru_cache(maxsize=None)
def discover() -> Plugins:
    """Everything installed, loaded once per process."""
    return classify(find_providers())
