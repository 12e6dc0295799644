"""refsuite: PyTorch's *Introduction to PyTorch* as an executable, property-tested reference.

The layout: ``refsuite.core`` is the framework (registry, discovery, devices, tolerances...),
``refsuite.tutorial`` what the tutorial teaches, ``refsuite.units`` its claims as units,
``refsuite.datasets`` the dataset plugins, ``refsuite.bench`` the hot-path benchmarks,
``refsuite.cli`` the command and ``refsuite.pytest_plugin`` the pytest plugin.

This module is the public API for plugin authors. Names are resolved on first use, so
``import refsuite`` stays cheap and does not import hypothesis ahead of pytest's assertion
rewriting.
"""
import importlib

from ._version import __version__

_EXPORTS = {
    "ALL_DTYPES": ".core.devices",
    "KNOWN_CAPABILITIES": ".core.devices",
    "Device": ".core.devices",
    "DeviceType": ".core.devices",
    "GenericDeviceType": ".core.devices",
    "SingleDeviceType": ".core.devices",
    "Context": ".core.context",
    "TolerancePolicy": ".core.tolerance",
    "default_cache_dir": ".core.cache",
    "private_dir": ".core.cache",
    "refuse_unless_private": ".core.cache",
    "RefsuiteError": ".core.errors",
    "UsageError": ".core.errors",
    "DeviceError": ".core.errors",
    "DataError": ".core.errors",
    "DatasetError": ".core.errors",
    "PluginError": ".core.errors",
    "DuplicateUnitError": ".core.errors",
    "OutputError": ".core.errors",
    "InternalError": ".core.errors",
    "SECTIONS": ".core.registry",
    "DATASET_CAPABILITIES": ".core.dataset_contract",
    "SHAPES_ONLY": ".core.registry",
    "FLOAT64": ".core.registry",
    "Registry": ".core.registry",
    "Requires": ".core.registry",
    "Unit": ".core.registry",
    "UnitGroup": ".core.registry",
    "DatasetPlugin": ".core.dataset_contract",
    "LoadedDataset": ".core.dataset_contract",
    "LeNet": ".tutorial.nets",
    "Net": ".tutorial.nets",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'refsuite' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)


def __dir__():
    return sorted(list(globals()) + __all__)
