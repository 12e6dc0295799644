"""``refsuite bench``: pytest-benchmark over the conv/pool hot path in interleaved rounds, printed as one
table; ``--compare`` judges two saved runs."""
from __future__ import annotations

import argparse
import collections
import os
import re
import tempfile
from pathlib import Path

from .. import options
from ..bench.quick import QUICK_ENV
from ..bench.rounds import DEFAULT_ROUNDS, positive_int
from .pytest_session import run_isolated

BASES = ("auto", "time", "ceiling")


def percent(text: str) -> float:
    """``10`` or ``10%``: a fraction (0.1); above 0."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage (e.g. 10 or 10%)") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a percentage above 0")
    return value / 100


def configure(p: argparse.ArgumentParser) -> None:
    options.add_to_argparse(p, [options.DEVICE])
    p.add_argument("--quick", action="store_true",
                   help="batch 256, the two composite stages only (default: every stage and batch)")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="keep pytest-benchmark's JSON at PATH, for --compare and pytest-benchmark compare "
                        "(default: not kept)")
    p.add_argument("--rounds", type=positive_int, default=DEFAULT_ROUNDS, metavar="N",
                   help="independent rounds per configuration, interleaved across configurations; every round is "
                        f"kept in the JSON, the table prints medians and spreads (default {DEFAULT_ROUNDS}; "
                        "--compare needs 4 in each run)")
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="torch intra-op threads while timing; on a machine other jobs share, 1 is steadier "
                        "(default: every core of the process's CPU affinity)")
    p.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"),
                   help="judge B against A per configuration (faster, slower, unchanged, not judged) instead of "
                        "benchmarking; exit 1 when any is slower (default: benchmark)")
    p.add_argument("--threshold", type=percent, default=0.10, metavar="PCT",
                   help="with --compare: the smallest change called one, in per cent (default 10)")
    p.add_argument("--basis", choices=BASES, default="auto",
                   help="with --compare: judge images/s ('time') or each round's fraction of its own SGEMM ceiling "
                        "('ceiling'); auto: time on one machine and device, ceiling across machines or devices "
                        "(default auto)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: passed to pytest unchanged")


def main(args: argparse.Namespace) -> int:
    from ..bench import comparison
    from ..core.devices import resolve_devices
    from ..core.discovery import discover
    from ..core.errors import UsageError
    from ..core.records import check_writable

    if args.compare:
        try:
            text, code = comparison.compare_runs(*args.compare, threshold=args.threshold, basis=args.basis)
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"--compare: {exc}") from None
        print(text)
        return code
    if args.json:
        args.json = str(check_writable(args.json, "--json"))
    plugins = discover()
    broken = plugins.broken("refsuite.bench_variants")
    if broken:
        name, error = next(iter(broken.items()))
        raise UsageError(f"bench variant plugin {name!r} failed to load: {error} (`refsuite doctor` shows the traceback)")
    # a bad --device is a usage error before anything runs
    for device in resolve_devices(args.device, plugins.devices, plugins.broken("refsuite.devices")):
        problem = device.type.synchronize_problem()
        if problem:
            raise UsageError(f"cannot time {device.label}: {problem}; its timings would count only the queuing of work")
    # read by the benchmark module's parametrisation; restored so an in-process caller is unchanged
    quick_before = os.environ.pop(QUICK_ENV, None)
    if args.quick:
        os.environ[QUICK_ENV] = "1"
    try:
        return _table(args)
    finally:
        os.environ.pop(QUICK_ENV, None)
        if quick_before is not None:
            os.environ[QUICK_ENV] = quick_before


class SkipReasons:
    """A pytest plugin counting skipped configurations per reason (once, not once per round), for one
    summary after the table."""

    def __init__(self) -> None:
        self.counts: collections.Counter = collections.Counter()
        self.seen: set = set()

    def pytest_runtest_logreport(self, report) -> None:
        if report.skipped and isinstance(report.longrepr, tuple):
            config = re.sub(r"-round\d+\]$", "]", report.nodeid)
            if config not in self.seen:
                self.seen.add(config)
                self.counts[report.longrepr[2].removeprefix("Skipped: ")] += 1

    def summary(self) -> str:
        lines = [f"skipped {sum(self.counts.values())}, by reason:"]
        lines += [f"{count:>6}  {reason}" for reason, count in self.counts.most_common()]
        return "\n".join(lines)


def _table(args: argparse.Namespace) -> int:
    from ..bench import hotpath_bench, report

    # pytest-benchmark's JSON goes to a temporary file unless --json asks to keep it; its own table
    # and its "Wrote ..." line are quiet: refsuite prints one table and names only a file it keeps.
    with tempfile.TemporaryDirectory(prefix="refsuite-bench-") as tmp:
        json_path = Path(args.json).absolute() if args.json else Path(tmp, "bench.json")
        # no xdist: pytest-benchmark stops timing when it is active (a -n in addopts, or bench run
        # from inside an xdist worker)
        argv = ["-q", "--no-units", "-p", "no:xdist", "-p", "refsuite.bench.machine_info", "-p", "refsuite.bench.rounds",
                "--bench-rounds", str(args.rounds), "--benchmark-json", str(json_path), "--benchmark-quiet",
                "--benchmark-sort=name"]
        if args.threads:
            argv += ["--bench-threads", str(args.threads)]
        argv += options.to_pytest_args(args, [options.DEVICE])
        argv += [a for a in args.pytest_args if a != "--"]
        skips = SkipReasons()
        code = run_isolated(argv, target=hotpath_bench.__file__, plugins=[skips])
        if json_path.exists():
            print(report.table(json_path))
        if skips.counts:
            print(skips.summary())
        if args.json and json_path.exists():
            print(f"wrote {json_path}")
        return code
