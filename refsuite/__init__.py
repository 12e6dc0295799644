"""refsuite: PyTorch's *Introduction to PyTorch* as an executable, property-tested reference.

The public API for plugin authors is re-exported here (resolved on first use, so
``import refsuite`` stays cheap and does not import hypothesis ahead of pytest's
assertion rewriting); the code lives in private modules.
"""
import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "ALL_DTYPES": "._devices",
    "KNOWN_CAPABILITIES": "._devices",
    "Device": "._devices",
    "DeviceType": "._devices",
    "GenericDeviceType": "._devices",
    "Context": "._context",
    "RefsuiteError": "._errors",
    "UsageError": "._errors",
    "DuplicateUnitError": "._errors",
    "DatasetError": "._errors",
    "SECTIONS": "._registry",
    "SHAPES_ONLY": "._registry",
    "FLOAT64": "._registry",
    "Registry": "._registry",
    "Requires": "._registry",
    "Unit": "._registry",
    "UnitGroup": "._registry",
    "DatasetPlugin": ".datasets.base",
    "LoadedDataset": ".datasets.base",
    "LeNet": ".nets",
    "Net": ".nets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'refsuite' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)


def __dir__():
    return sorted(list(globals()) + __all__)
