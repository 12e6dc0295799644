"""The tests' fixtures (``unit``, ``plugins``) come from refsuite's testing kit, opted into here
as plugin authors opt in: refsuite registers no fixtures in projects that do not ask.

Tests marked ``slow`` (they build venvs, pip-install, or run many full subprocess runs) are
visible skips unless ``--runslow`` is given, the option refsuite's own slow units answer to:
the README's test command stays a few-minute loop, and .ci/run runs the slow ones after it."""
import pytest

pytest_plugins = ["refsuite.testing"]

SLOW_REASON = "slow: run with --runslow (CI runs them: python -m pytest -n 2 -m slow --runslow)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("runslow", default=False):
        return
    skip = pytest.mark.skip(reason=SLOW_REASON)
    # units (refsuite's own items) say why they skip themselves; only this project's test functions here
    for item in items:
        if isinstance(item, pytest.Function) and item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
