"""``refsuite merge RECORD... [-o OUT]``: records from several hosts, devices or ranks in one table."""
from __future__ import annotations

import argparse

from .exit_codes import Exit


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("records", nargs="+", metavar="RECORD", help="records of refsuite run --record, one per host or device")
    p.add_argument("-o", "--output", default=None, metavar="OUT",
                   help="write the merged record there: a record refsuite compare reads (default: only the table)")


def main(args: argparse.Namespace) -> int:
    from ..core.merge import merge, table
    from ..core.records import check_writable, write_json

    output = check_writable(args.output, "-o") if args.output else None  # before the work, as every output
    merged = merge(args.records)
    lines, failed = table(merged)
    print("\n".join(lines))
    if output is not None:
        write_json(output, merged)
        print(f"merged record: {output}")
    return Exit.FAILED if failed else Exit.OK
