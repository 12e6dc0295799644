"""refsuite's testing kit (the `unit` and `plugins` fixtures), opted into as every plugin test package does."""
import pytest

pytest_plugins = ["refsuite.testing"]


@pytest.fixture
def unit_on_digits(unit):
    """refsuite's unit runner, with the digits dataset selected."""
    return unit.select_dataset("digits")
