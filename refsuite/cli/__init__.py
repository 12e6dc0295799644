"""The ``refsuite`` command: one module per subcommand, each with ``configure(parser)`` and ``main(args)``.

``run`` and ``bench`` drive pytest with refsuite's plugin rather than re-implementing a runner.
"""
from __future__ import annotations

import argparse
import atexit
import importlib
import os
import sys

from .._version import __version__
from .exit_codes import Exit, epilog, report

#: subcommand -> (module, one-line help), in the order --help lists them
COMMANDS = {
    "run": ("run", "run every registered unit (through pytest)"),
    "list": ("listing", "list units: id, section, summary, requirements"),
    "doctor": ("doctor", "versions, devices, datasets, providers and plugin failures"),
    "show-batch": ("show_batch", "write a PNG of a training batch and its labels, as the tutorial shows"),
    "train": ("train", "train the tutorial's Net; write metrics.json and a loss curve"),
    "compare": ("compare", "drift report between two records of refsuite run --record"),
    "merge": ("merge", "one table of records from several hosts, devices or ranks; -o writes the merged record"),
    "expect": ("expect", "write a known-failure manifest (TOML, for run --expect) from a record's failures and skips"),
    "bench": ("bench", "benchmark the conv/pool hot path (pytest-benchmark) and print one table"),
}


def _module(command: str):
    return importlib.import_module(f".{COMMANDS[command][0]}", __name__)


class _Once(argparse._StoreAction):
    """argparse's store, except that a second value is a usage error instead of replacing the first."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = namespace.__dict__.setdefault("_given_once", {})
        if self.dest in given:
            parser.error(f"argument {'/'.join(self.option_strings)}: given twice ({given[self.dest]}, then {values}); "
                         f"it takes one value")
        given[self.dest] = values
        setattr(namespace, self.dest, values)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (the command, the input, what is valid) and
    refsuite's usage code; an option that takes one value refuses a second."""

    def error(self, message: str):
        self.exit(Exit.USAGE, f"{self.prog}: error: {message}\n")

    def add_argument(self, *args, **kwargs):
        if args and args[0].startswith("-") and kwargs.get("action", "store") == "store":
            kwargs["action"] = _Once
        return super().add_argument(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="refsuite",
        description="PyTorch's Introduction to PyTorch tutorial as an executable, property-tested\nreference.",
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"refsuite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command, (_, help_text) in COMMANDS.items():
        _module(command).configure(sub.add_parser(command, help=help_text, description=help_text))
    return parser


#: commands that report a plugin that failed to load in their own output and verdict
_REPORT_THEIR_OWN_PLUGINS = ("run", "doctor")


def _broken_plugins(command: str) -> bool:
    """Name each plugin that failed to load, if the command looked for plugins: a broken provider
    fails every command, not only the run whose -k would have selected it."""
    from ..core.discovery import discover

    if not discover.cache_info().currsize:
        return False
    failures = discover().failures
    for provider in failures:
        print(f"refsuite {command}: error: plugin {provider.label} failed to load: "
              f"{provider.error.strip().splitlines()[-1]} (`refsuite doctor` shows the traceback)", file=sys.stderr)
    return bool(failures)


def _culprit(exc: BaseException) -> str:
    """Who raised ``exc``, as a person names it: the plugin whose code it came from, if any."""
    from ..core.discovery import discover

    return discover().culprit(exc) if discover.cache_info().currsize else "code refsuite called"


def main(argv: list[str] | None = None) -> int:
    from ..core import interrupts
    from ..core.errors import PluginError, RefsuiteError

    args = build_parser().parse_args(argv)
    installed = interrupts.install()
    try:
        return _run(args)
    except RefsuiteError as exc:
        return report(args.command, exc)
    except KeyboardInterrupt as exc:
        if interrupts.raised_by_code():
            # no signal came: code the command called (a dataset's load, a device's hook) raised it
            return report(args.command, PluginError(f"{_culprit(exc)} raised KeyboardInterrupt itself "
                                                    "(no Ctrl-C or signal arrived)"))
        print(f"refsuite {args.command}: interrupted ({interrupts.describe()})", file=sys.stderr)
        return interrupts.exit_code()
    except SystemExit as exc:
        # the commands return their code; a SystemExit comes from code they called, and must not
        # end the command quietly with whatever code it carries
        return report(args.command, PluginError(f"{_culprit(exc)} called sys.exit({exc.code!r})"))
    finally:
        if installed:
            interrupts.uninstall()


def _run(args: argparse.Namespace) -> int:
    """The command's own code, failed too by a Ctrl-C it swallowed or a plugin that failed to load."""
    from ..core import interrupts

    code = _module(args.command).main(args)
    if code not in (Exit.INTERRUPTED, Exit.TERMINATED, Exit.HANGUP):
        interrupts.check()  # a Ctrl-C whose KeyboardInterrupt something swallowed still ends the command
    if code == Exit.OK and args.command not in _REPORT_THEIR_OWN_PLUGINS and _broken_plugins(args.command):
        return Exit.FAILED
    return code


def console() -> None:
    """The ``refsuite`` command: :func:`main`, then an exit without the interpreter's teardown.

    By then torch, pytest and hypothesis hold several hundred thousand objects; tearing them down
    module by module, with a last full collection, takes about a second of a ``refsuite run`` here,
    and the operating system takes the memory back anyway (Instagram's services exit the same way).
    The atexit handlers still run and both streams are flushed, so nothing registered or printed is
    lost; every file refsuite writes is closed before main returns. Freezing the heap at exit
    instead made Triton's nanobind extension (torch >= 2.15) report its objects as leaked.
    """
    try:
        code = main()
    except BrokenPipeError:  # the reader went away (refsuite list | head): not an error of ours
        code = Exit.OK
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away (| head), or a closed stream
            pass
    os._exit(code)
