"""Independent rounds: every benchmark repeated, the repeats interleaved across configurations.

A pytest plugin (``refsuite bench`` loads it; under plain pytest add ``-p refsuite.bench.rounds``).
``--bench-rounds N`` parametrises each benchmark, the ceilings included, N times, and the run is
ordered round by round: round 1 of every configuration, then round 2 of every configuration, and so
on. Whatever the machine does meanwhile (another job starting, a clock changing) then falls on all
configurations alike, and each round's ceiling is measured beside that round's configurations.
Without the plugin each benchmark runs once.
"""
from __future__ import annotations

import argparse

#: rounds per configuration unless --bench-rounds / ``refsuite bench --rounds`` says otherwise
DEFAULT_ROUNDS = 5
#: the parameter every benchmark takes: its round, counted from 0
ROUND_PARAM = "bench_round"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: give 1 or more")
    return value


def pytest_addoption(parser) -> None:
    parser.getgroup("refsuite bench").addoption(
        "--bench-rounds", type=positive_int, default=DEFAULT_ROUNDS, metavar="N",
        help=f"independent rounds per benchmark, interleaved across configurations (default {DEFAULT_ROUNDS})")


def rounds(config) -> int:
    """The rounds this run asks for: 1 without this plugin."""
    return config.getoption("bench_rounds", 1)


def round_of(item) -> int:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(ROUND_PARAM, 0) if callspec is not None else 0


def pytest_collection_modifyitems(items) -> None:
    items.sort(key=round_of)  # stable: within a round, pytest's own order
