"""``refsuite run``: every registered unit on the chosen devices, through pytest."""
from __future__ import annotations

import argparse

from .. import options
from ..core.records import check_writable
from . import launch
from .pytest_session import run_isolated


def configure(p: argparse.ArgumentParser) -> None:
    options.add_to_argparse(p, options.RUN)
    p.add_argument("-k", dest="keyword", default=None, metavar="EXPRESSION",
                   help="pytest -k expression over unit ids (default: every unit)")
    p.add_argument("--junitxml", default=None, metavar="PATH", help="write a JUnit XML report to PATH (default: none)")
    p.add_argument("--json", dest="record", default=None, metavar="PATH", help=argparse.SUPPRESS)  # old spelling of --record
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="more detail per unit; repeat for more (default: one line per unit)")
    p.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure (default: run every unit)")
    launch.configure(p)
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: passed to pytest unchanged")


def main(args: argparse.Namespace) -> int:
    if args.nproc:
        return launch.launch(args.nproc)
    # a rank other than 0 prints nothing and writes no JUnit file: rank 0 reports for the launch
    world = launch.quiet_unless_leader()
    if world is not None and not world.leader:
        args.junitxml = None
    # output paths first: a run must not end by losing its results to a path it cannot write
    if args.record:
        args.record = str(check_writable(args.record, "--record"))
    if args.junitxml:
        args.junitxml = str(check_writable(args.junitxml, "--junitxml"))
    argv = ["--units", *options.to_pytest_args(args)]
    if args.keyword:
        argv += ["-k", args.keyword]
    if args.junitxml:
        argv += ["--junitxml", args.junitxml]
    if args.exitfirst:
        argv.append("-x")
    argv += ["-v"] * args.verbose
    argv += [a for a in args.pytest_args if a != "--"]
    return run_isolated(argv)
