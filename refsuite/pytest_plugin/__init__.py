"""pytest plugin (registered through ``pytest11``): every unit × device becomes a test item.

Units are collected when ``--device`` or ``--units`` is given, or when the ini option
``refsuite_units`` is true and no explicit test paths were named, so installing refsuite
does not add items to other projects' test runs. They are collected by one collector beside
the test files, so each has a node id, ``refsuite::<unit id>[<device>]``, that pytest's
arguments take like any other (``pytest 'refsuite::tensors.seed.golden[cpu]'``).

This module is the plugin pytest registers: it holds the hooks, each defined in the module of
its job (options, collection, items, report). torch, hypothesis and the registry are imported
inside the hooks that need them: the plugin is loaded by every pytest run in an environment
where refsuite is installed.
"""
from .collection import (
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_make_collect_report,
    pytest_sessionstart,
    pytest_unconfigure,
)
from .items import BrokenProviderItem, UnitItem, pytest_runtest_makereport
from .options import pytest_addoption
from .report import pytest_report_header
from .state import NODE_ROOT

__all__ = [
    "NODE_ROOT", "BrokenProviderItem", "UnitItem", "pytest_addoption", "pytest_collection_modifyitems",
    "pytest_configure", "pytest_make_collect_report", "pytest_report_header", "pytest_runtest_makereport",
    "pytest_sessionstart", "pytest_unconfigure",
]
