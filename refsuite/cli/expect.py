"""``refsuite expect RECORD.json``: a known-failure manifest, to review, from a run's record."""
from __future__ import annotations

import argparse

from .exit_codes import Exit


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("record", help="a record written by refsuite run --record PATH")
    p.add_argument("--device", default=None, metavar="TYPE",
                   help="the device type whose failures and skips to list (default: the record's only one)")


def main(args: argparse.Namespace) -> int:
    from ..core.manifests import from_record
    from ..core.record_diff import load_record

    record = load_record(args.record)
    print(from_record(record, args.record, args.device), end="")
    return Exit.OK
