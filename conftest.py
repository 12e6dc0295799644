"""Fixtures for refsuite's own tests: run one unit directly, as its pytest item would."""
from __future__ import annotations

import pytest
from hypothesis import Phase, settings


@pytest.fixture(scope="session")
def plugins():
    from refsuite._discovery import discover

    return discover()


class UnitRunner:
    """Runs a registered unit's check on the CPU with the ci profile (no shrinking: faster red)."""

    def __init__(self, plugins, tmp_path):
        from refsuite._context import Context
        from refsuite._devices import CPU, Device
        from refsuite._profiles import settings_for
        from refsuite._tolerance import TolerancePolicy
        from refsuite.datasets.base import DatasetSelection

        self.plugins = plugins
        self.selection = DatasetSelection.from_options(plugins.datasets, None, None, False)
        base = settings_for("ci", "cpu")
        self.ctx = Context(
            device=Device(CPU),
            tmp_path=tmp_path,
            hypothesis=settings(base, phases=[Phase.explicit, Phase.reuse, Phase.generate]),
            tolerance=TolerancePolicy(),
            dataset_name=self.selection.name,
            dataset_loader=self.selection.load,
        )

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
        except BaseExceptionGroup as group:  # hypothesis reports several distinct failures as a group
            if all(isinstance(e, AssertionError) for e in group.exceptions):
                return str(group)
            raise
        pytest.fail(f"unit {unit_id} passed although its fault was planted")


@pytest.fixture
def unit(plugins, tmp_path):
    return UnitRunner(plugins, tmp_path)
