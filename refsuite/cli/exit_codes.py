"""The refsuite command's exit codes and environment variables, as ``refsuite --help`` lists them.

One code per kind of outcome, the same in every subcommand, and pytest's own where they overlap:
``refsuite run`` is a pytest run, and ``pytest --device=cuda`` and ``refsuite run --device cuda``
stop with the same code.
"""
from __future__ import annotations

import enum
import textwrap


class Exit(enum.IntEnum):
    OK = 0
    FAILED = 1
    INTERNAL = 3
    USAGE = 4
    NOTHING_SELECTED = 5
    HANGUP = 129
    INTERRUPTED = 130
    TERMINATED = 143


#: pytest's INTERRUPTED (2) is Ctrl-C; refsuite says 130 for it everywhere, as shells do
PYTEST_INTERRUPTED = 2

MEANINGS = {
    Exit.OK: "success",
    Exit.FAILED: "something failed: a unit (run), a benchmark (bench), a unit that passed in A fails in B "
                 "(compare), a plugin or the default dataset (doctor)",
    Exit.INTERNAL: "internal error (pytest's)",
    Exit.USAGE: "usage error, nothing ran: an unknown option, a value out of range, an option given "
                "twice, an unknown or unavailable device or dataset, a data root, cache or setting that "
                "cannot be used, an output that cannot be written, an input that cannot be read",
    Exit.NOTHING_SELECTED: "nothing selected: run -k, or a list glob, that matches no unit",
    Exit.HANGUP: "stopped by SIGHUP (the terminal closed); what had finished is kept",
    Exit.INTERRUPTED: "interrupted (Ctrl-C); what had finished is kept",
    Exit.TERMINATED: "stopped by SIGTERM (a CI runner or scheduler ending the job); what had finished is kept",
}


def environment_variables() -> dict[str, str]:
    """Every environment variable refsuite reads, and what it sets."""
    from ..core.budgets import CORES_ENV, DEVICES_ENV, THREADS_ENV
    from ..core.cache import CACHE_ENV
    from ..datasets.base import DATA_ROOT_ENV
    from ..datasets.synthetic import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, SIZE_ENV

    return {
        CACHE_ENV: "where generated data and compiled kernels are kept (default: ~/.cache/refsuite); "
                   "a directory of yours that group and others cannot write",
        SIZE_ENV: f"TRAIN,TEST images of synthetic-cifar10 (default: {DEFAULT_SIZE[0]},{DEFAULT_SIZE[1]}; "
                  f"{MIN_SIZE} to {MAX_SIZE:,} each)",
        DATA_ROOT_ENV: "where a dataset read from disk (cifar10) lives, when --data-root is not given",
        THREADS_ENV: "torch threads per test process, as pytest --torch-threads (default: under pytest-xdist, "
                     "cores // workers)",
        CORES_ENV: "the cores a parallel run shares out (default: the process's CPU affinity)",
        DEVICES_ENV: "spread (default) or shared: which device each pytest-xdist worker uses, as "
                     "pytest --worker-devices",
        "REFSUITE_BENCH_QUICK": "1: what bench --quick sets, for pytest --pyargs refsuite.bench.hotpath_bench",
    }


def _entry(name: str, text: str, width: int) -> str:
    return textwrap.fill(text, 79, initial_indent=f"  {name:<{width}}  ", subsequent_indent=" " * (width + 4),
                         break_on_hyphens=False)


def epilog() -> str:
    """The environment variables and the exit codes, as plain text for ``--help``."""
    env = environment_variables()
    width = max(map(len, env))
    lines = ["environment variables:", *(_entry(name, text, width) for name, text in env.items()), ""]
    lines += ["exit codes (the same for every command):", *(_entry(str(int(c)), t, 3) for c, t in MEANINGS.items()), ""]
    lines.append("refsuite COMMAND --help lists each command's options and their defaults.")
    return "\n".join(lines)
