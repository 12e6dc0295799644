"""Where refsuite and its plugins keep what they generate or build once per machine.

Whatever is read back from the cache is trusted as far as the cache itself is: a directory that
another user owns, or that group or others may write, is refused (as ssh and pip refuse theirs).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import UsageError

CACHE_ENV = "REFSUITE_CACHE"


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "refsuite")


def refuse_unless_private(path: Path) -> None:
    """Raise UsageError when ``path`` is owned by another user or writable by group or others."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(f"refusing {path}: it is a symbolic link (set ${CACHE_ENV} to a real directory)")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise UsageError(f"refusing {path}: it is owned by uid {info.st_uid}, not by you (uid {os.getuid()}); "
                         f"set ${CACHE_ENV} to a directory of your own")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UsageError(f"refusing {path}: group or others may write it (mode {stat.filemode(info.st_mode)}); "
                         f"run `chmod go-w {path}` or set ${CACHE_ENV} to a private directory")


def private_dir(path: Path) -> Path:
    """``path``, created readable and writable by its owner only, after checking nobody else controls it."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot use {path} as a cache directory ({exc.strerror or exc}); "
                         f"set ${CACHE_ENV} to a directory of your own") from None
    refuse_unless_private(path)
    return path
