"""torch version facts, so version-dependent code says which release it needs."""
from __future__ import annotations

import functools

from packaging.version import Version


@functools.lru_cache(maxsize=None)
def torch_version() -> Version:
    import torch  # on first use: a registry of units can be built and listed before torch loads

    # Local build tags (+cpu, +cu121) and pre-release suffixes don't change the API.
    return Version(Version(torch.__version__).base_version)


def torch_at_least(version: str) -> bool:
    return torch_version() >= Version(version)
