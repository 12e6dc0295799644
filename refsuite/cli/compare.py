"""``refsuite compare A.json B.json``: what differs between two recorded runs."""
from __future__ import annotations

import argparse

from .. import options
from .exit_codes import Exit


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", help="the baseline record (e.g. the oldest torch)")
    p.add_argument("b", help="the record to compare (e.g. the newest torch)")
    p.add_argument("--factor", type=options.positive, default=10.0,
                   help="report errors against references that moved by more than this factor (default: 10)")
    p.add_argument("--expect", default=None, metavar="FILE",
                   help="a known-failure manifest: also show what B does against it (new failures expected or "
                        "not, expected failures that now pass) and judge B by it (default: none)")


def main(args: argparse.Namespace) -> int:
    from ..core.discovery import discover
    from ..core.record_diff import compare_records, load_record

    plugins = discover()
    manifest = None
    if args.expect:
        from ..core.manifests import load_manifest

        manifest = load_manifest(args.expect, plugins.units, plugins.devices)
    a, b = load_record(args.a), load_record(args.b)
    report, regressed = compare_records(a, b, factor=args.factor, aliases=plugins.units.aliases)
    print(report)
    if manifest is None:
        return Exit.FAILED if regressed else Exit.OK
    from ..core.manifests import changes_against

    lines, red = changes_against(manifest, a, b, plugins.units.aliases)
    # with a manifest, an expected failure is no regression: the manifest's verdict is the verdict
    print("\n".join(lines))
    return Exit.FAILED if red else Exit.OK
