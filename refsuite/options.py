"""The options ``refsuite run`` and ``pytest`` share, declared once, and the dataset they choose.

The pytest plugin adds them to pytest's parser; the CLI adds them to its subcommands and turns
what the user gave back into pytest arguments, so the two spellings cannot drift apart.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Callable, Iterable

from .core.profiles import PROFILE_NAMES


@dataclasses.dataclass(frozen=True)
class Option:
    flag: str  # as pytest spells it
    dest: str
    help: str
    action: str = "store"  # "store", "append" or "store_true"
    metavar: str | None = None
    #: ``refsuite run``'s spelling where it differs (pytest owns --strict)
    cli_flag: str | None = None
    #: a path, made absolute before it is handed to pytest (which runs in a directory of its own)
    path: bool = False
    choices: tuple | None = None

    def kwargs(self) -> dict:
        kwargs = {"dest": self.dest, "help": self.help, "action": self.action}
        if self.choices is not None:
            kwargs["choices"] = self.choices
        if self.action == "append":
            kwargs["default"] = []
        if self.action != "store_true":
            kwargs["metavar"] = self.metavar
        else:
            kwargs["default"] = False
        return kwargs


DEVICE = Option(
    "--device", "device",
    "device(s) to run on: cpu, cuda, cuda:1, mps, xpu, any type torch knows, or 'all'; "
    "repeat or comma-separate (default: cpu)",
    action="append", metavar="DEVICE",
)
DATASET = Option("--dataset", "dataset", "dataset plugin to use (default: synthetic-cifar10)", metavar="NAME")
DATA_ROOT = Option("--data-root", "data_root",
                   "where a dataset read from disk lives (default: $REFSUITE_DATA_ROOT; synthetic-cifar10: "
                   "generated into $REFSUITE_CACHE)", metavar="PATH", path=True)
DOWNLOAD = Option("--download", "download", "allow the dataset plugin to download missing files (default: never)",
                  action="store_true")
STRICT = Option("--strict-units", "strict_units", "a skipped unit is a failure (default: a visible skip)",
                action="store_true", cli_flag="--strict")
RUNSLOW = Option("--runslow", "runslow", "also run units marked slow (default: skip them)", action="store_true")
PROFILE = Option("--refsuite-profile", "refsuite_profile",
                 "hypothesis profile of the units' properties: dev (10 examples), ci (25, derandomized), "
                 "thorough (300) (default: ci); hypothesis's own --hypothesis-profile is left to the project",
                 metavar="{" + ",".join(PROFILE_NAMES) + "}", cli_flag="--profile", choices=PROFILE_NAMES)
REPRODUCE = Option("--refsuite-reproduce", "refsuite_reproduce",
                   "replay one failing hypothesis example: N:BLOB, as a failure's replay line prints it "
                   "(with -k naming the one unit; default: none)", metavar="N:BLOB", cli_flag="--reproduce")
UNIT_TIMEOUT = Option("--unit-timeout", "unit_timeout",
                      "seconds a unit may run before it fails as hung and the run goes on; 0: no limit "
                      "(default: 900, or the unit's own longer limit)", metavar="SECONDS")
RECORD = Option("--record", "record", "write per-unit results as JSON to PATH (default: none)", metavar="PATH",
                path=True)
EXPECT = Option("--expect", "expect",
                "a TOML manifest of the failures and skips expected per device type: the run is green when "
                "exactly those happen, and red for a new failure or an expected one that passes (default: none)",
                metavar="FILE", path=True)
REPRO = Option("--repro", "repro",
               "write a self-contained repro bundle (repro.py needing only torch and numpy, the inputs, the "
               "reference, the tolerance) for each failing unit into DIR/<unit>[<device>]/ (default: none)",
               metavar="DIR", path=True)

TORCH_THREADS = Option(
    "--torch-threads", "torch_threads",
    "torch intra-op and inter-op threads per test process (env REFSUITE_TORCH_THREADS); default: under "
    "pytest-xdist each worker gets cores // workers (cores: CPU affinity, or env REFSUITE_CORES), "
    "otherwise torch's own default",
    metavar="N",
)
WORKER_DEVICES = Option(
    "--worker-devices", "worker_devices",
    "with several devices of a requested type under pytest-xdist: 'spread' (default) runs worker i on "
    "index i mod n, 'shared' keeps every worker on the default device (env REFSUITE_WORKER_DEVICES)",
    metavar="spread|shared",
)

#: how a test process shares the machine (pytest only: `refsuite run` passes them after --)
BUDGET = (TORCH_THREADS, WORKER_DEVICES)
#: what a run of the units depends on, in the order --help lists it
RUN = (DEVICE, DATASET, DATA_ROOT, DOWNLOAD, STRICT, RUNSLOW, RECORD, PROFILE, REPRODUCE, UNIT_TIMEOUT, EXPECT, REPRO)
#: choosing a dataset, for commands that load one
DATA = (DATASET, DATA_ROOT, DOWNLOAD)


def add_to_pytest(group, options: Iterable[Option] = RUN) -> None:
    for option in options:
        group.addoption(option.flag, **option.kwargs())


def add_to_argparse(parser: argparse.ArgumentParser, options: Iterable[Option]) -> None:
    for option in options:
        parser.add_argument(option.cli_flag or option.flag, **option.kwargs())


def to_pytest_args(args: argparse.Namespace, options: Iterable[Option] = RUN) -> list[str]:
    """The pytest arguments that say what ``args`` says."""
    argv: list[str] = []
    for option in options:
        value = getattr(args, option.dest)
        values = value if option.action == "append" else [value]
        for value in values:
            if option.action == "store_true":
                argv += [option.flag] if value else []
            elif value is not None:
                argv += [option.flag, str(Path(value).expanduser().absolute()) if option.path else value]
    return argv


def values(get: Callable[[str], Any], options: Iterable[Option] = RUN) -> dict[str, Any]:
    """Each option's value by its dest, as ``get`` gives it (pytest's ``config.getoption``, or a
    lookup in argparse's namespace)."""
    return {option.dest: get(option.dest) for option in options}


def dataset_selection(args: argparse.Namespace):
    """The dataset that the data options in ``args`` choose, checked (a UsageError if it cannot be used), not loaded."""
    from .core.discovery import discover
    from .datasets.base import DatasetSelection

    plugins = discover()
    return DatasetSelection.from_options(plugins.datasets, args.dataset, args.data_root, args.download,
                                         plugins.broken("refsuite.datasets"))


def _number(kind, low, high, what):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not (low is None or value >= low) or not (high is None or value < high) or value != value:
            raise argparse.ArgumentTypeError(f"{what}, got {text}")
        return value

    return parse


def at_least(low: int):
    """An argparse type: an integer ≥ ``low``."""
    return _number(int, low, None, f"must be an integer ≥ {low}")


#: an argparse type: a number > 0 (a learning rate)
positive = _number(float, 1e-300, float("inf"), "must be a number > 0")
#: an argparse type: a number in [0, 1) (a momentum)
fraction = _number(float, 0.0, 1.0, "must be a number in [0, 1)")


def environment_variables() -> dict[str, str]:
    """Every environment variable refsuite reads, and what it sets, as ``refsuite --help`` lists them."""
    # imported here, not above: every command imports this module, and the dataset modules bring numpy
    from .bench.quick import QUICK_ENV
    from .core.budgets import CORES_ENV, DEVICES_ENV, THREADS_ENV
    from .core.cache import CACHE_ENV
    from .datasets.base import DATA_ROOT_ENV
    from .datasets.synthetic import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, SIZE_ENV

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
        QUICK_ENV: "1: what bench --quick sets, for pytest --pyargs refsuite.bench.hotpath_bench",
    }
