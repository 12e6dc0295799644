"""``refsuite bench``: pytest-benchmark over the conv/pool hot path, printed as one table."""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from .. import options
from .pytest_session import run_isolated


def configure(p: argparse.ArgumentParser) -> None:
    options.add_to_argparse(p, [options.DEVICE])
    p.add_argument("--quick", action="store_true", help="batch 256, the two composite stages only")
    p.add_argument("--json", default=None, metavar="PATH", help="keep pytest-benchmark's JSON (loads in --benchmark-compare)")
    p.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"), help="print B/A ratios of two saved runs")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: passed to pytest unchanged")


def main(args: argparse.Namespace) -> int:
    from ..bench import report
    from ..core.devices import resolve_devices
    from ..core.discovery import discover
    from ..core.errors import UsageError
    from ..core.records import check_writable

    if args.compare:
        try:
            print(report.compare_runs(*args.compare))
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"--compare: {exc}") from None
        return 0
    if args.json:
        args.json = str(check_writable(args.json, "--json"))
    resolve_devices(args.device, discover().devices)  # a bad --device is a usage error before anything runs
    # read by the benchmark module's parametrisation; restored so an in-process caller is unchanged
    quick_before = os.environ.pop("REFSUITE_BENCH_QUICK", None)
    if args.quick:
        os.environ["REFSUITE_BENCH_QUICK"] = "1"
    try:
        return _table(args)
    finally:
        os.environ.pop("REFSUITE_BENCH_QUICK", None)
        if quick_before is not None:
            os.environ["REFSUITE_BENCH_QUICK"] = quick_before


def _table(args: argparse.Namespace) -> int:
    from ..bench import hotpath_bench, report

    with tempfile.TemporaryDirectory(prefix="refsuite-bench-") as tmp:
        json_path = Path(args.json).absolute() if args.json else Path(tmp, "bench.json")
        # no xdist: pytest-benchmark stops timing when it is active (a -n in addopts, or bench run
        # from inside an xdist worker)
        argv = ["-q", "--no-units", "-p", "no:xdist", "-p", "refsuite.bench.machine_info", "--benchmark-json", str(json_path),
                "--benchmark-columns=median,iqr,rounds", "--benchmark-sort=name"]
        argv += options.to_pytest_args(args, [options.DEVICE])
        argv += [a for a in args.pytest_args if a != "--"]
        code = run_isolated(argv, target=hotpath_bench.__file__)
        if json_path.exists():
            print(report.table(json_path))
            if args.json:
                print(f"wrote {json_path}")
        return code
