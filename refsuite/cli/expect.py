"""``refsuite expect RECORD.json``: a known-failure manifest, to review, from a run's record."""
from __future__ import annotations

import argparse


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("record", help="a record written by refsuite run --record PATH")
    p.add_argument("--device", default=None, metavar="TYPE",
                   help="the device type whose failures and skips to list (default: the record's only one)")


def main(args: argparse.Namespace) -> int:
    from ..core.compare import load_record
    from ..core.errors import UsageError
    from ..core.manifests import from_record

    try:
        record = load_record(args.record)
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(str(exc)) from None
    print(from_record(record, args.record, args.device), end="")
    return 0
