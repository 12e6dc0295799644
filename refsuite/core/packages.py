"""Optional packages a unit or dataset needs (torchvision), told apart as missing or installed-but-broken.

A torchvision built for another torch release is found by ``find_spec`` yet fails when imported
(an undefined symbol in its C extension, an operator registration that torch no longer accepts):
the units that need it must then be skips that name the cause, not failures or a crash.
"""
from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util


def installed_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


@functools.lru_cache(maxsize=None)
def package_problem(package: str) -> str | None:
    """Why ``package`` cannot be used in this process, or None when it imports."""
    try:
        if importlib.util.find_spec(package) is None:
            return f"needs the optional package {package!r}"
    except (ImportError, ValueError):
        pass  # a parent package or a half-imported module: importing it below says what is wrong
    try:
        importlib.import_module(package)
    except Exception as exc:  # the import itself runs the package's code: any error means unusable
        import torch

        cause = (str(exc).strip().splitlines() or [""])[0]
        return (f"{package} {installed_version(package)} is installed but cannot be imported beside torch "
                f"{torch.__version__} ({type(exc).__name__}: {cause})")
    return None


def require(package: str, error: type[Exception]) -> None:
    """Raise ``error`` with the reason when ``package`` cannot be used."""
    problem = package_problem(package)
    if problem is not None:
        raise error(problem)
