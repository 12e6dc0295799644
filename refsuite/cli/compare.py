"""``refsuite compare A.json B.json``: what differs between two recorded runs."""
from __future__ import annotations

import argparse

from .. import options


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", help="the baseline record (e.g. the oldest torch)")
    p.add_argument("b", help="the record to compare (e.g. the newest torch)")
    p.add_argument("--factor", type=options.positive, default=10.0,
                   help="report errors against references that moved by more than this factor (default: 10)")


def main(args: argparse.Namespace) -> int:
    from ..core.compare import compare_records, load_record
    from ..core.discovery import discover
    from ..core.errors import UsageError

    try:
        report, regressed = compare_records(load_record(args.a), load_record(args.b), factor=args.factor,
                                            aliases=discover().units.aliases)
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(str(exc)) from None
    print(report)
    return 1 if regressed else 0
