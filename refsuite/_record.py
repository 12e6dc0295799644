"""Machine-readable run records (``--record``): environment facts and per-unit results."""
from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import torch


def environment(devices: list[str], dataset: str | None) -> dict:
    try:
        import torchvision

        tv = torchvision.__version__
    except ImportError:
        tv = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": tv,
        "cuda": torch.version.cuda,
        "devices": devices,
        "dataset": dataset,
        "threads": torch.get_num_threads(),
    }


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
