"""Machine-readable run records (``--record``): the environment's facts and per-unit results.

:func:`environment` is the one place refsuite collects facts about the machine and its software:
records, ``refsuite train``'s metrics, ``refsuite doctor`` and the benchmarks' machine info all use it.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from .._version import __version__
from .errors import UsageError
from .packages import package_problem

#: the layout of ``--record`` files: 2 adds "format", the run's settings ("run") and one summary per
#: unit × kind of comparison; records without "format" are layout 1 (one entry per comparison made)
RECORD_FORMAT = 2


def environment(devices: list[str] | None = None, dataset: str | None = None) -> dict:
    import torch

    # a broken torchvision is a fact to report, not a crash; None: not installed
    tv_problem = package_problem("torchvision")
    if tv_problem is None:
        import torchvision

        tv = torchvision.__version__
    else:
        tv = None if tv_problem.startswith("needs ") else f"unavailable: {tv_problem}"
    return {
        "refsuite": __version__,
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": tv,
        "cuda": torch.version.cuda,
        "cudnn": _cudnn_version(),
        "devices": devices or [],
        "dataset": dataset,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
    }


def _cudnn_version():
    import torch

    try:
        return torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    except RuntimeError as exc:  # torch refuses a cuDNN other than the one it was built with
        return f"unavailable ({(str(exc).strip().splitlines() or [''])[0]})"


def read_json(path: str | os.PathLike):
    """The JSON in ``path``; a ValueError that names the file and what went wrong otherwise."""
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None


def write_json(path: str | os.PathLike, payload: dict) -> None:
    """Write atomically: a reader never sees half a file, even if we are killed mid-write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make the report private
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def check_writable(path: str | os.PathLike, option: str, *, directory: bool = False) -> Path:
    """``path`` made absolute, once it is known that a file (or, with ``directory``, files inside it)
    can be written there; UsageError otherwise.

    Checked before any work starts, so a run never ends by losing its results to a bad path. A
    missing directory is created, as pytest does for --junitxml's parent.
    """
    path = Path(path).expanduser().absolute()
    if path.is_dir() and not directory:
        raise UsageError(f"{option} {path}: is a directory; give a file name")
    folder = path if directory else path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".refsuite-", suffix=".check"):
            pass
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write there ({exc.strerror or exc})") from None
    return path
