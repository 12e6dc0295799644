"""Which configurations ``refsuite bench --quick`` times, and the environment variable that asks for them."""
from __future__ import annotations

import os

#: set (to 1) by ``refsuite bench --quick``; set it yourself under ``pytest --pyargs refsuite.bench.hotpath_bench``
QUICK_ENV = "REFSUITE_BENCH_QUICK"


def quick() -> bool:
    return bool(os.environ.get(QUICK_ENV))
