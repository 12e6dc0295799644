"""The plugin's command-line options and ini setting."""
from __future__ import annotations

import pytest

from .. import options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("refsuite", "refsuite: run the tutorial's units")
    options.add_to_pytest(group)
    options.add_to_pytest(group, options.BUDGET)
    group.addoption("--units", action="store_true", help="collect the units even when test paths are given")
    group.addoption("--no-units", action="store_true", help="do not collect the units")
    parser.addini("refsuite_units", type="bool", default=False, help="collect refsuite units in this project")
