"""Finding units, devices, datasets and benchmark variants through entry points of installed
distributions.

In stages, as flake8 does, each an immutable record: :class:`Found` (an entry point as the
installed metadata lists it) → :class:`Provider` holding what it loaded or the error its import
raised → the same record checked against its group's contract (:data:`VALIDATORS`: cheap checks
of types and attributes, nothing loaded or run) → registered into :class:`Plugins`, where a name
or unit id another provider took fails the second one. A provider failing at any stage carries
its reason and shows wherever failing providers show (``refsuite doctor``, the run's header, a
failing item), while the others still load. Built-ins come through the same groups.
"""
from __future__ import annotations

import dataclasses
import functools
import traceback
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any, Callable

from . import interrupts
from .dataset_contract import plugin_problems
from .devices import DeviceType
from .errors import PluginError
from .registry import Registry, Unit, validate_id

GROUPS = ("refsuite.units", "refsuite.devices", "refsuite.datasets", "refsuite.bench_variants")


@dataclasses.dataclass(frozen=True)
class Found:
    """An entry point of one of :data:`GROUPS`, as the installed metadata lists it."""

    group: str
    name: str
    value: str
    dist: str

    @property
    def label(self) -> str:
        return f"{self.group}:{self.name} ({self.dist})"


@dataclasses.dataclass(frozen=True)
class Provider(Found):
    """One entry point, and either what it provides or why it fails (its import's traceback, or the
    contract it breaks). Each stage makes a new record rather than changing this one."""

    loaded: Any = None
    error: str | None = None

    def failing(self, reason: str) -> "Provider":
        return dataclasses.replace(self, error=reason)


@dataclasses.dataclass(frozen=True)
class Plugins:
    units: Registry
    devices: dict[str, DeviceType]
    datasets: dict[str, Any]
    #: benchmark variants by name (``refsuite bench``); each provider exports an iterable of them
    variants: dict[str, Any]
    providers: tuple[Provider, ...]

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
        """The providers of ``group`` that failed to load or to pass its checks: entry-point name -> the
        error's last line, so that asking for one by name says why it is missing, not that it is unknown."""
        return {p.name: p.error.strip().splitlines()[-1] for p in self.failures if p.group == group}


# Stage 1: found


def find_providers(groups=GROUPS) -> list[Found]:
    """Entry points in the given groups, refsuite's own first, each listed once."""
    found: dict[tuple, Found] = {}
    for group in groups:
        for ep in metadata.entry_points(group=group):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "unknown distribution"
            # A distribution seen twice on sys.path (e.g. a source tree beside its install) counts once.
            found.setdefault((group, ep.name, ep.value), Found(group, ep.name, ep.value, dist))
    return sorted(found.values(), key=lambda p: (GROUPS.index(p.group), not p.dist.startswith("refsuite "), p.name))


# Stage 2: loaded


def _plugin_code(call: Callable[[], Any], verdicts: tuple = ()) -> tuple[Any, str | None]:
    """What ``call`` (plugin code) returns, or None and the traceback of what it raised; for one of
    ``verdicts`` (refsuite's own checks saying why), that one line."""
    try:
        return call(), None
    except verdicts as exc:
        return None, f"{type(exc).__name__}: {exc}"
    except KeyboardInterrupt:
        # the user's Ctrl-C stops everything; one the plugin raised itself is the plugin's failure
        if not interrupts.raised_by_code():
            raise
        return None, traceback.format_exc()
    except (Exception, SystemExit):  # a plugin calling sys.exit() is a broken plugin, not an exit
        return None, traceback.format_exc()


def load(found: Found) -> Provider:
    """The entry point's object, or the error its import raised."""
    entry_point = metadata.EntryPoint(found.name, found.value, found.group)
    loaded, error = _plugin_code(entry_point.load)
    return Provider(found.group, found.name, found.value, found.dist, loaded, error)


# Stage 3: validated, per group. Each check returns what the provider provides (a provider of many
# objects as a tuple, so a generator is read once) or raises PluginError with the reason.


def _exported(provider: Provider, what: str) -> tuple:
    obj = provider.loaded
    if isinstance(obj, (str, bytes, Mapping)) or not isinstance(obj, Iterable):
        raise PluginError(f"{provider.value} is {obj!r}, not an iterable of {what}")
    return tuple(obj)


def _same_name(provider: Provider, name: Any) -> None:
    if name != provider.name:
        raise PluginError(f"entry point {provider.name!r} names an object called {name!r}; they must match")


def _units(provider: Provider) -> tuple:
    units = _exported(provider, "refsuite Units (a UnitGroup)")
    for unit in units:
        if not isinstance(unit, Unit):
            raise PluginError(f"{provider.value} exported {unit!r}, which is not a refsuite Unit")
        for unit_id in (unit.id, *unit.aliases):
            try:
                validate_id(unit_id)
            except ValueError as exc:
                raise PluginError(str(exc)) from None
    return units


def _device(provider: Provider) -> DeviceType:
    device = provider.loaded
    if not isinstance(device, DeviceType):
        raise PluginError(f"{provider.value} is {device!r}, not a refsuite DeviceType")
    _same_name(provider, device.name)
    return device


def _dataset(provider: Provider) -> Any:
    problems = plugin_problems(provider.loaded)
    if problems:
        raise PluginError(f"dataset {provider.name!r} ({provider.value}) breaks the dataset contract "
                          f"(see PLUGINS.md): " + "; ".join(problems))
    _same_name(provider, provider.loaded.name)
    return provider.loaded


#: what ``refsuite bench`` reads of a variant (refsuite.bench.variants.Variant has them all)
VARIANT_METHODS = ("skip_reason", "settings", "build")
VARIANT_FIELDS = ("doc", "forward_only", "compile")


def _variants(provider: Provider) -> tuple:
    variants = _exported(provider, "benchmark variants (refsuite.bench.variants.Variant)")
    for variant in variants:
        name = getattr(variant, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{provider.value} exported {variant!r}, which has no name")
        lacking = [f"{m}()" for m in VARIANT_METHODS if not callable(getattr(variant, m, None))]
        lacking += [f for f in VARIANT_FIELDS if not hasattr(variant, f)]
        if lacking:
            raise PluginError(f"benchmark variant {name!r} from {provider.value} is a {type(variant).__name__} "
                              f"without {', '.join(lacking)}: export refsuite.bench.variants.Variant objects")
    return variants


VALIDATORS: dict[str, Callable[[Provider], Any]] = {
    "refsuite.units": _units,
    "refsuite.devices": _device,
    "refsuite.datasets": _dataset,
    "refsuite.bench_variants": _variants,
}


def validate(provider: Provider) -> Provider:
    """The provider checked against its group's contract: with what it provides, or failing with why."""
    if provider.error is not None:
        return provider
    # plugin code may run here (a property, an iterator): what it raises is the plugin's failure too
    provided, error = _plugin_code(lambda: VALIDATORS[provider.group](provider), verdicts=(PluginError,))
    if error is not None:
        return provider.failing(error)
    return dataclasses.replace(provider, loaded=provided)


# Stage 4: registered, across providers


class _Registration:
    """What the valid providers provide, by name; a name or unit id already taken fails the later provider."""

    def __init__(self) -> None:
        self.units = Registry()
        self.devices: dict[str, DeviceType] = {}
        self.datasets: dict[str, Any] = {}
        self.variants: dict[str, Any] = {}
        self._variant_owners: dict[str, str] = {}

    def add(self, provider: Provider) -> None:
        if provider.group == "refsuite.units":
            self.units.add(provider.loaded, provider.label)
        elif provider.group == "refsuite.devices":
            self._add_named(self.devices, provider)
        elif provider.group == "refsuite.datasets":
            self._add_named(self.datasets, provider)
        else:
            self._add_variants(provider)

    @staticmethod
    def _add_named(into: dict, provider: Provider) -> None:
        if provider.name in into:
            raise PluginError(f"{provider.name!r} is already provided by another plugin; refusing the second one")
        into[provider.name] = provider.loaded

    def _add_variants(self, provider: Provider) -> None:
        """Every variant the provider exports, or none of them if a name is taken."""
        incoming = {}
        for variant in provider.loaded:
            if variant.name in self.variants or variant.name in incoming:
                owner = self._variant_owners.get(variant.name, provider.label)
                raise PluginError(f"{variant.name!r} is provided by {owner} and again by {provider.label}; "
                                  f"refusing the second one")
            incoming[variant.name] = variant
        self.variants.update(incoming)
        self._variant_owners.update(dict.fromkeys(incoming, provider.label))


def classify(providers: Iterable[Provider]) -> Plugins:
    """Loaded providers validated, then registered, into what a run uses."""
    registration = _Registration()
    final = []
    for provider in map(validate, providers):
        if provider.error is None:
            try:
                registration.add(provider)
            except PluginError as exc:
                provider = provider.failing(f"{type(exc).__name__}: {exc}")
        final.append(provider)
    return Plugins(registration.units, registration.devices, registration.datasets, registration.variants,
                   tuple(final))


@functools.lru_cache(maxsize=None)
def discover() -> Plugins:
    """Everything installed, loaded once per process."""
    return classify(load(found) for found in find_providers())
