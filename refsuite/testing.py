"""The kit for testing units, refsuite's own and plugins': run a unit's check directly, as its
pytest item would, and assert that a planted fault makes it fail.

The fixtures below are opt-in, as pytest's ``pytester`` is: a test package names this module in
its top-level conftest.py (``pytest_plugins = ["refsuite.testing"]``). In a test::

    import torch

    def test_zeros_that_are_ones(unit, monkeypatch):
        monkeypatch.setattr(torch, "zeros", torch.ones)
        assert "differs" in unit.fails("tensors.creation.zeros_default_float32")

Fixtures: ``unit`` (a :class:`UnitRunner` on the CPU with the default dataset) and ``plugins``
(everything installed). Helpers: :func:`only_called_from` (a fault planted for one package's
calls only) and :func:`check_dataset` (a dataset plugin honours the dataset contract).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

if sys.version_info >= (3, 11):
    _ExceptionGroup = BaseExceptionGroup  # noqa: F821 (a builtin from 3.11)
else:  # hypothesis depends on the backport there
    from exceptiongroup import BaseExceptionGroup as _ExceptionGroup

__all__ = ["UnitRunner", "check_dataset", "only_called_from", "plugins", "unit"]


class UnitRunner:
    """Runs registered units' checks as their pytest items would: on one device (the CPU unless
    :meth:`on` chose another), under a refsuite hypothesis profile (``ci`` unless ``profile`` or
    ``--refsuite-profile`` chose another; the device's cap on examples applies) without shrinking
    (a faster red), with the default dataset unless :meth:`select_dataset` chose another.

    ``ctx`` is the :class:`refsuite.Context` the checks receive (``unit.ctx.dataset`` loads the
    selected dataset).
    """

    def __init__(self, plugins, tmp_path: Path, dataset: Any = None, device: str = "cpu",
                 profile: str | None = None) -> None:
        from .core.errors import UsageError
        from .core.profiles import DEFAULT_PROFILE, PROFILE_NAMES

        if profile is not None and profile not in PROFILE_NAMES:
            raise UsageError(f"profile={profile!r}: choose from {', '.join(PROFILE_NAMES)}")
        self.plugins = plugins
        self.tmp_path = tmp_path
        self.profile = profile or DEFAULT_PROFILE
        self.select_dataset(dataset)
        self.on(device)

    def on(self, device: str) -> "UnitRunner":
        """Run on ``device`` (``"cuda"``, ``"cuda:1"``, ``"mps"``...) from now on; returns this runner.

        A device this machine lacks skips the test, naming the available ones; a name torch does
        not know is an error.
        """
        import torch

        from .core.devices import resolve_devices
        from .core.errors import UsageError

        try:
            torch.device(device)
        except (RuntimeError, ValueError):
            raise UsageError(f"unknown device {device!r}") from None
        try:
            (self.device,) = resolve_devices([device], self.plugins.devices)
        except UsageError as exc:
            pytest.skip(str(exc))
        self._make_context()
        return self

    def select_dataset(self, dataset: Any) -> "UnitRunner":
        """Give the units a dataset: an installed plugin's name, a ``refsuite.DatasetPlugin``
        instance (installed or not), or None for the default one; returns this runner."""
        from .datasets.base import DatasetSelection

        if dataset is None or isinstance(dataset, str):
            self.selection = DatasetSelection.from_options(self.plugins.datasets, dataset, None, False)
        else:
            self.selection = DatasetSelection.from_options({dataset.name: dataset}, dataset.name, None, False)
        if hasattr(self, "device"):
            self._make_context()
        return self

    def _make_context(self) -> None:
        from .core.context import make_context

        self.ctx = make_context(self.device, self.tmp_path, profile=self.profile, dataset=self.selection, shrink=False)

    def unmet(self, unit_id: str) -> str | None:
        """Why the unit cannot run here (the reason its pytest item would skip with), or None."""
        requires = self.plugins.units.get(unit_id).requires
        return requires.unmet(self.device, self.selection.name, False, self.selection.capabilities)

    def runnable(self, pattern: str = "*") -> list[str]:
        """Ids of the units matching the glob ``pattern`` that can run here."""
        return [u.id for u in self.plugins.units.select(pattern) if not self.unmet(u.id)]

    def run(self, unit_id: str) -> None:
        """Run the unit's check as its pytest item would: torch's global state restored afterwards, and a
        unit that left it changed fails; skips the test (with the reason) when the unit cannot run here."""
        from .core import isolation

        reason = self.unmet(unit_id)
        if reason:
            pytest.skip(f"{unit_id}: {reason}")
        with isolation.guarded() as leaks:
            self.plugins.units.get(unit_id).check(self.ctx)
        if leaks:
            raise AssertionError(isolation.left_changed(unit_id, leaks))

    def run_all(self, pattern: str) -> list[str]:
        """Run every unit matching the glob ``pattern`` that can run here; returns their ids.

        A pattern that matches no registered unit fails the test (a typo must not pass).
        """
        if not self.plugins.units.select(pattern):
            pytest.fail(f"no unit matches {pattern!r}; see `refsuite list`")
        ran = self.runnable(pattern)
        for unit_id in ran:
            self.run(unit_id)
        return ran

    def fails(self, unit_id: str, match: str | None = None) -> str:
        """Assert that the unit fails (an ``AssertionError``, not a crash); return the failure text.

        ``match``: a regular expression the failure text must contain (``re.search``).
        """
        text = None
        try:
            self.run(unit_id)
        except AssertionError as exc:
            text = str(exc)
        except _ExceptionGroup as group:  # hypothesis reports several distinct failures as a group
            if not all(isinstance(e, AssertionError) for e in group.exceptions):
                raise
            text = "\n".join([str(group), *(str(e) for e in group.exceptions)])
        if text is None:
            pytest.fail(f"unit {unit_id} passed although its fault was planted")
        if match is not None and not re.search(match, text):
            pytest.fail(f"unit {unit_id} failed, but its failure text does not match {match!r}:\n{text}")
        return text


def only_called_from(package: str, fault: Callable, real: Callable) -> Callable:
    """A stand-in for ``real`` that calls ``fault`` when its caller is code in ``package`` (a
    module name prefix, e.g. ``"my_plugin"``) and ``real`` otherwise.

    For faults in what torch, hypothesis or refsuite also use themselves (``torch.no_grad``,
    ``torch.Tensor.detach``...): only the unit's own calls see the fault::

        monkeypatch.setattr(torch, "no_grad", only_called_from("my_plugin", contextlib.nullcontext, torch.no_grad))
    """

    def planted(*args, **kwargs):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        chosen = fault if caller == package or caller.startswith(package + ".") else real
        return chosen(*args, **kwargs)

    return planted


def check_dataset(dataset: Any, root: str | Path | None = None, download: bool = False):
    """Assert that a ``refsuite.DatasetPlugin`` honours the dataset contract: ``problem`` is None,
    ``load`` returns a ``refsuite.LoadedDataset`` whose arrays, labels, statistics and channels
    agree, and nothing contradicts the capabilities it declares. Returns what it loaded."""
    from .core.registry import DATASET_CAPABILITIES
    from .datasets.base import LoadedDataset

    unknown = sorted(set(dataset.capabilities) - set(DATASET_CAPABILITIES))
    assert not unknown, f"dataset {dataset.name!r} declares unknown capabilities {unknown}; known: {sorted(DATASET_CAPABILITIES)}"
    root = Path(root) if root is not None else None
    problem = dataset.problem(root, download)
    assert problem is None, f"dataset {dataset.name!r} cannot be used: {problem}"
    loaded = dataset.load(root, download)
    assert isinstance(loaded, LoadedDataset), f"{dataset.name}.load returned {type(loaded).__name__}, not a LoadedDataset"
    assert loaded.name == dataset.name, f"{dataset.name}.load returned a dataset named {loaded.name!r}"
    problems = loaded.contract_problems(frozenset(dataset.capabilities))
    image, label = loaded.train[0]
    if not hasattr(image, "size") or not isinstance(label, int):
        problems.append(f"train[0] is ({type(image).__name__}, {type(label).__name__}), not (PIL image, int)")
    assert not problems, f"dataset {dataset.name!r} breaks the contract: " + "; ".join(problems)
    return loaded


@pytest.fixture(scope="session")
def plugins():
    """Everything refsuite found installed (``refsuite.core.discovery.Plugins``): ``units`` (the
    registry), ``devices``, ``datasets``, ``variants`` and the ``providers`` with their errors."""
    from .core.discovery import discover

    return discover()


@pytest.fixture
def unit(plugins, tmp_path, request):
    """refsuite's unit runner (``refsuite.testing.UnitRunner``) on the CPU, default dataset, and
    the hypothesis profile ``--refsuite-profile`` chose (ci by default).

    ``unit.run(id)`` runs a unit's check; ``unit.fails(id, match=None)`` asserts that it fails
    (with a planted fault) and returns the failure text; ``unit.run_all("section.*")`` runs every
    matching unit that can run here; ``unit.on("cuda")`` picks a device (a missing one skips);
    ``unit.select_dataset("digits")`` a dataset (a name or a DatasetPlugin); ``unit.unmet(id)``
    says why a unit would be skipped.
    """
    return UnitRunner(plugins, tmp_path, profile=request.config.getoption("refsuite_profile", None))
