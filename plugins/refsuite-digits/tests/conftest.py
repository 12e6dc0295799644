import pytest


@pytest.fixture
def unit_on_digits(unit, plugins):
    """refsuite's unit runner, with the digits dataset selected."""
    from refsuite.datasets.base import DatasetSelection

    unit.selection = DatasetSelection.from_options(plugins.datasets, "digits", None, False)
    unit.ctx.dataset_name = "digits"
    unit.ctx.dataset_loader = unit.selection.load
    return unit
