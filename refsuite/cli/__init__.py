"""The ``refsuite`` command: one module per subcommand, each with ``configure(parser)`` and ``main(args)``.

``run`` and ``bench`` drive pytest with refsuite's plugin rather than re-implementing a runner.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .._version import __version__

#: subcommand -> (module, one-line help), in the order --help lists them
COMMANDS = {
    "run": ("run", "run every registered unit (through pytest)"),
    "list": ("listing", "list units: id, section, summary, requirements"),
    "doctor": ("doctor", "versions, devices, datasets, providers and plugin failures"),
    "show-batch": ("show_batch", "write a PNG of a training batch and its labels, as the tutorial shows"),
    "train": ("train", "train the tutorial's Net; write metrics.json and a loss curve"),
    "compare": ("compare", "drift report between two `refsuite run --record` files"),
    "bench": ("bench", "benchmark the conv/pool hot path (pytest-benchmark) and print one table"),
}


def _module(command: str):
    return importlib.import_module(f".{COMMANDS[command][0]}", __name__)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (the command, the input, what is valid) and exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="refsuite",
        description="PyTorch's Introduction to PyTorch tutorial as an executable, property-tested reference.",
    )
    parser.add_argument("--version", action="version", version=f"refsuite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command, (_, help_text) in COMMANDS.items():
        _module(command).configure(sub.add_parser(command, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..core.errors import RefsuiteError

    args = build_parser().parse_args(argv)
    try:
        return _module(args.command).main(args)
    except RefsuiteError as exc:
        print(f"refsuite {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"refsuite {args.command}: interrupted", file=sys.stderr)
        return 130
