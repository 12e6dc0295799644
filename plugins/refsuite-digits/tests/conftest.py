import pytest


@pytest.fixture
def unit_on_digits(unit):
    """refsuite's unit runner, with the digits dataset selected."""
    return unit.select_dataset("digits")
