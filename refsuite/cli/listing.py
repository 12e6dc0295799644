"""``refsuite list``: units by glob over their ids, with section, summary and requirements."""
from __future__ import annotations

import argparse
import sys

from .exit_codes import Exit


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("glob", nargs="?", default="*", help="glob over unit ids, e.g. 'tensors.*' (default: every unit)")


def main(args: argparse.Namespace) -> int:
    from ..core.discovery import discover

    plugins = discover()
    chosen = plugins.units.select(args.glob)
    if not chosen and args.glob in plugins.units.aliases:
        chosen = [plugins.units.get(args.glob)]
    if not chosen:
        print(f"no units match {args.glob!r} ({len(plugins.units)} registered)", file=sys.stderr)
        return Exit.NOTHING_SELECTED
    width = max(len(u.id) for u in chosen)
    for unit in chosen:
        was = f"  (was {', '.join(unit.aliases)})" if unit.aliases else ""
        tags = f" [{', '.join(sorted(unit.tags))}]" if unit.tags else ""
        print(f"{unit.id:<{width}}  {unit.section:<10}  {unit.summary}  [requires: {unit.requires.describe()}]{tags}{was}")
    print(f"\n{len(chosen)} of {len(plugins.units)} units")
    return Exit.OK  # a plugin that failed to load is named, and fails the command, by refsuite.cli.main
