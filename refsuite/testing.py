"""The kit for testing units, refsuite's own and plugins': run a unit's check directly, as its
pytest item would, and assert that a planted fault makes it fail.

In a conftest.py::

    pytest_plugins = ["refsuite.testing"]

then in a test::

    def test_zeros_that_are_ones(unit, monkeypatch):
        monkeypatch.setattr(torch, "zeros", torch.ones)
        assert "differs" in unit.fails("tensors.creation.zeros_default_float32")
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    _ExceptionGroup = BaseExceptionGroup  # noqa: F821 (a builtin from 3.11)
else:  # hypothesis depends on the backport there
    from exceptiongroup import BaseExceptionGroup as _ExceptionGroup


class UnitRunner:
    """Runs a registered unit's check on the CPU under the ci profile, without shrinking (a faster red)."""

    def __init__(self, plugins, tmp_path: Path, dataset: str | None = None) -> None:
        from hypothesis import Phase, settings

        from .core.context import Context
        from .core.devices import CPU, Device
        from .core.profiles import settings_for
        from .core.tolerance import TolerancePolicy

        self.plugins = plugins
        base = settings_for("ci", "cpu")
        self.ctx = Context(
            device=Device(CPU),
            tmp_path=tmp_path,
            hypothesis=settings(base, phases=[Phase.explicit, Phase.reuse, Phase.generate]),
            tolerance=TolerancePolicy(CPU.tolerances),
        )
        self.select_dataset(dataset)

    def select_dataset(self, name: str | None) -> "UnitRunner":
        """Give the units the dataset plugin ``name`` (None: the default one)."""
        from .datasets.base import DatasetSelection

        self.selection = DatasetSelection.from_options(self.plugins.datasets, name, None, False)
        self.ctx.dataset_name = self.selection.name
        self.ctx.dataset_loader = self.selection.load
        return self

    def unmet(self, unit_id: str) -> str | None:
        """Why the unit cannot run here (as its pytest item would skip), or None."""
        return self.plugins.units.get(unit_id).requires.unmet(self.ctx.device, self.ctx.dataset_name, runslow=False)

    def runnable(self, pattern: str) -> list[str]:
        return [u.id for u in self.plugins.units.select(pattern) if not self.unmet(u.id)]

    def run(self, unit_id: str) -> None:
        reason = self.unmet(unit_id)
        if reason:
            pytest.skip(f"{unit_id}: {reason}")
        self.plugins.units.get(unit_id).check(self.ctx)

    def fails(self, unit_id: str) -> str:
        """Assert that the unit fails (an assertion, not a crash); return the failure text."""
        try:
            self.run(unit_id)
        except AssertionError as exc:
            return str(exc)
        except _ExceptionGroup as group:  # hypothesis reports several distinct failures as a group
            if all(isinstance(e, AssertionError) for e in group.exceptions):
                return str(group)
            raise
        pytest.fail(f"unit {unit_id} passed although its fault was planted")


@pytest.fixture(scope="session")
def plugins():
    """Everything installed: units, devices, datasets, benchmark variants and the providers."""
    from .core.discovery import discover

    return discover()


@pytest.fixture
def unit(plugins, tmp_path):
    """A :class:`UnitRunner` on the CPU with the default dataset."""
    return UnitRunner(plugins, tmp_path)
