"""Where refsuite keeps what it generates or builds once per machine (datasets, compiled kernels)."""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "REFSUITE_CACHE"


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "refsuite")
