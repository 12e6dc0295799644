"""Units (a named, sectioned check plus what it needs) and the registry that holds them.

Note [Adding units]
~~~~~~~~~~~~~~~~~~~
1. In your plugin's module make one ``units = UnitGroup()``; the entry point names that object.
2. Decorate each check ``@units.unit("section.topic.claim", requires=...)``: the id is dotted
   lowercase words starting with its section (:data:`SECTIONS`, or one of your own); the check's
   docstring's first line is the unit's summary; it takes a :class:`~refsuite.core.context.Context`.
3. Say what it needs in :class:`Requires`: device capabilities (``SHAPES_ONLY`` runs on meta,
   ``FLOAT64``), ``dataset``/``dataset_capabilities``, ``packages``, ``min_torch``, ``slow``,
   ``device_check``; anything unmet is a visible skip with the reason. Renamed? keep the old id
   in ``aliases`` so records made under it still pair.
4. Register the group in your pyproject::

       [project.entry-points."refsuite.units"]
       mine = "refsuite_mine.units:units"

5. Test it with refsuite.testing (``pytest_plugins = ["refsuite.testing"]``): ``unit.run(id)``
   on the real code, ``unit.fails(id, match=...)`` with a fault planted by ``monkeypatch``.
Discovery checks that the object is an iterable of :class:`Unit` with well-formed ids, and
registers all of a provider's units or, on a clashing id, none (a failing provider).
"""
from __future__ import annotations

import dataclasses
import fnmatch
import inspect
import re
import warnings
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from .dataset_contract import DATASET_CAPABILITIES
from .errors import DuplicateUnitError, PluginError
from .packages import package_problem
from .torch_version import torch_at_least

if TYPE_CHECKING:
    from .context import Context
    from .devices import Device

#: The tutorial's sections, in the order it teaches them. Plugins may add sections of their own.
SECTIONS = ("tensors", "models", "data", "training", "evaluation")

_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


@dataclasses.dataclass(frozen=True)
class Requires:
    """What a unit needs to run; anything unmet makes it a visible skip with the reason."""

    #: device capabilities (see refsuite.KNOWN_CAPABILITIES). Units read tensor values unless
    #: they say otherwise: a shape-only unit passes capabilities=frozenset() and runs on meta.
    capabilities: frozenset = frozenset({"values"})
    #: True: the selected dataset; a name or tuple of names: only those datasets
    dataset: bool | str | tuple = False
    #: importable modules, e.g. ("torchvision",)
    packages: tuple = ()
    #: the oldest torch release with the behaviour the unit checks, e.g. "2.6"
    min_torch: str | None = None
    #: long-running; runs only when asked for (--runslow)
    slow: bool = False
    #: a further condition on the device: returns why the unit cannot run there, or None
    device_check: Callable[["Device"], str | None] | None = None
    #: what the selected dataset must have (keys of DATASET_CAPABILITIES); implies a dataset
    dataset_capabilities: frozenset = frozenset()

    def __post_init__(self) -> None:
        needs = frozenset(self.dataset_capabilities)
        unknown = needs - set(DATASET_CAPABILITIES)
        if unknown:
            raise PluginError(f"unknown dataset capabilities {sorted(unknown)}; known: {sorted(DATASET_CAPABILITIES)}")
        object.__setattr__(self, "dataset_capabilities", needs)

    def unmet(self, device: "Device", dataset_name: str | None, runslow: bool = True,
              dataset_capabilities: Iterable[str] | None = None) -> str | None:
        """Why the unit cannot run here, or None when it can.

        ``dataset_capabilities``: what the selected dataset declares (None: not known, not checked).
        """
        missing = sorted(set(self.capabilities) - set(device.capabilities))
        if missing:
            why = [f"{c}: {device.type.lacking[c]}" for c in missing if c in getattr(device.type, "lacking", {})]
            return f"device {device.label} lacks {', '.join(missing)}" + (f" ({'; '.join(why)})" if why else "")
        if self.min_torch and not torch_at_least(self.min_torch):
            import torch

            return f"needs torch>={self.min_torch}, have {torch.__version__}"
        for package in self.packages:
            if (problem := package_problem(package)) is not None:
                return problem
        if (self.dataset or self.dataset_capabilities) and dataset_name is None:
            return "needs a dataset, and no dataset plugin is installed"
        names = (self.dataset,) if isinstance(self.dataset, str) else self.dataset
        if isinstance(names, tuple) and dataset_name not in names:
            return f"needs --dataset {' or '.join(names)} (selected: {dataset_name})"
        lacking = sorted(self.dataset_capabilities - set(dataset_capabilities)) if dataset_capabilities is not None else []
        if lacking:
            return f"dataset {dataset_name} lacks " + "; ".join(f"{c} ({DATASET_CAPABILITIES[c]})" for c in lacking)
        if self.slow and not runslow:
            return "slow: run with --runslow"
        if self.device_check is not None:
            return self.device_check(device)
        return None

    def describe(self) -> str:
        parts = sorted(self.capabilities - {"values"})
        if "values" not in self.capabilities:
            parts.append("shapes-only")
        if self.dataset:
            names = (self.dataset,) if isinstance(self.dataset, str) else self.dataset
            parts.append(f"dataset={'|'.join(names)}" if isinstance(names, tuple) else "dataset")
        if self.dataset_capabilities:
            parts.append(f"dataset capabilities={'+'.join(sorted(self.dataset_capabilities))}")
        parts += [f"package={p}" for p in self.packages]
        if self.min_torch:
            parts.append(f"torch>={self.min_torch}")
        if self.slow:
            parts.append("slow")
        if self.device_check is not None:
            parts.append(f"device-check={self.device_check.__name__.lstrip('_')}")
        return ", ".join(parts) or "-"


#: A unit that only looks at shapes, dtypes and errors: it runs on the meta device too.
SHAPES_ONLY = Requires(capabilities=frozenset())
#: A unit that compares values in double precision.
FLOAT64 = Requires(capabilities=frozenset({"values", "float64"}))


@dataclasses.dataclass(frozen=True)
class Unit:
    """A named check of one claim the tutorial makes."""

    id: str
    check: Callable[["Context"], None]
    summary: str
    requires: Requires = Requires()
    #: who registered it: "<entry point> (<distribution> <version>)"; set when registered
    provider: str = "?"
    #: ids this unit had before it was renamed or moved: records made under them still pair with it
    aliases: tuple = ()
    #: what the listing should say about how the unit checks, e.g. "layouts" (draws memory layouts)
    tags: frozenset = frozenset()
    #: seconds the unit may run before it fails as hung (None: the run's --unit-timeout)
    timeout_s: float | None = None

    @property
    def section(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def location(self) -> tuple[str, int]:
        """Source file and line of the check, for test reports."""
        func = inspect.unwrap(self.check)
        try:
            return inspect.getsourcefile(func) or "?", inspect.getsourcelines(func)[1]
        except (OSError, TypeError):
            return "?", 0


class UnitGroup:
    """The units one provider module exports; its entry point names this object.

    >>> units = UnitGroup()
    >>> @units.unit("tensors.zeros.are_zero")
    ... def zeros_are_zero(ctx):
    ...     '''torch.zeros gives zeros.'''
    """

    def __init__(self) -> None:
        self._units: list[Unit] = []

    def unit(self, id: str, *, requires: Requires | None = None, aliases: Iterable[str] = (),
             tags: Iterable[str] = (), timeout_s: float | None = None) -> Callable[[Callable], Unit]:
        """Register the decorated check as unit ``id``; its docstring's first line is the summary.

        ``aliases``: the ids the unit had before a rename or move (see :meth:`Registry.get`).
        ``timeout_s``: this unit's time limit, where it needs longer than the run's ``--unit-timeout``.
        """

        def register(check: Callable) -> Unit:
            summary = inspect.getdoc(check)
            if not summary:
                raise PluginError(f"unit {id!r} needs a docstring: its first line is the unit's summary")
            made = Unit(id=id, check=check, summary=summary.splitlines()[0], requires=requires or Requires(),
                        aliases=tuple(aliases), tags=frozenset(tags), timeout_s=timeout_s)
            for unit_id in (made.id, *made.aliases):
                validate_id(unit_id)
            self._units.append(made)
            return made

        return register

    def __iter__(self) -> Iterator[Unit]:
        return iter(self._units)

    def __len__(self) -> int:
        return len(self._units)


def validate_id(unit_id: str) -> None:
    if not _ID.match(unit_id):
        raise PluginError(
            f"unit id {unit_id!r} must be dotted lowercase words starting with its section, e.g. 'tensors.seed.repeats'"
        )


def _natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _sort_key(unit: Unit) -> tuple:
    section = SECTIONS.index(unit.section) if unit.section in SECTIONS else len(SECTIONS)
    return (section, _natural_key(unit.id))


class Registry:
    """All registered units, keyed by id; build one per test to keep tests isolated."""

    def __init__(self) -> None:
        self._units: dict[str, Unit] = {}
        #: old id -> current id
        self._aliases: dict[str, str] = {}

    def add(self, units: Iterable[Unit], provider: str) -> list[Unit]:
        """Register every unit from one provider, or none of them if any id or alias clashes."""
        incoming: dict[str, Unit] = {}
        aliases: dict[str, str] = {}
        for unit in units:
            if not isinstance(unit, Unit):
                raise PluginError(f"{provider} exported {unit!r}, which is not a refsuite Unit")
            for unit_id in (unit.id, *unit.aliases):
                validate_id(unit_id)
                clash = self._owner(unit_id) or incoming.get(unit_id) or incoming.get(aliases.get(unit_id, ""))
                if clash is not None:
                    raise DuplicateUnitError(
                        f"duplicate unit id {unit_id!r}: registered by {clash.provider} and again by {provider}"
                    )
                if unit_id != unit.id:
                    aliases[unit_id] = unit.id
            incoming[unit.id] = dataclasses.replace(unit, provider=provider)
        self._units.update(incoming)
        self._aliases.update(aliases)
        return list(incoming.values())

    def _owner(self, unit_id: str) -> Unit | None:
        return self._units.get(unit_id) or self._units.get(self._aliases.get(unit_id, ""))

    @property
    def aliases(self) -> dict[str, str]:
        """Old ids of renamed or moved units, mapped to their current ids."""
        return dict(self._aliases)

    def canonical(self, unit_id: str) -> str:
        """The current id for ``unit_id`` (itself unless it is an old id)."""
        return self._aliases.get(unit_id, unit_id)

    def get(self, unit_id: str) -> Unit:
        """The unit with this id; an old id still finds it, with a warning naming the new one."""
        if unit_id in self._aliases:
            new = self._aliases[unit_id]
            warnings.warn(f"unit id {unit_id!r} is deprecated: it is now {new!r}", FutureWarning, stacklevel=2)
            unit_id = new
        try:
            return self._units[unit_id]
        except KeyError:
            raise KeyError(f"no unit {unit_id!r}; see `refsuite list`") from None

    def select(self, pattern: str = "*", exclude: Iterable[str] = ()) -> list[Unit]:
        """Units whose id matches the glob ``pattern`` and none of ``exclude``, in tutorial order."""
        exclude = list(exclude)
        chosen = [
            u
            for u in self._units.values()
            if fnmatch.fnmatchcase(u.id, pattern) and not any(fnmatch.fnmatchcase(u.id, x) for x in exclude)
        ]
        return sorted(chosen, key=_sort_key)

    def __iter__(self) -> Iterator[Unit]:
        return iter(self.select())

    def __len__(self) -> int:
        return len(self._units)

    def __contains__(self, unit_id: str) -> bool:
        return unit_id in self._units or unit_id in self._aliases
