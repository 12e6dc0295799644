"""The refsuite command's exit codes and environment variables, as ``refsuite --help`` lists them, and
the one place an error becomes a line on stderr and its exit code.

The codes' table is :mod:`refsuite.core.exit_codes` (each error in :mod:`refsuite.core.errors`
carries its code); the environment variables are listed beside the options they stand for
(:func:`refsuite.options.environment_variables`).
"""
from __future__ import annotations

import sys
import textwrap

from ..core.errors import RefsuiteError
from ..core.exit_codes import MEANINGS, PYTEST_INTERRUPTED, Exit
from ..options import environment_variables

__all__ = ["Exit", "MEANINGS", "PYTEST_INTERRUPTED", "epilog", "report"]


def report(command: str, exc: RefsuiteError) -> Exit:
    """Say ``exc`` as the command's one line on stderr; the exit code its kind carries."""
    print(f"refsuite {command}: {exc.heading}{exc}", file=sys.stderr)
    return exc.exit_code


def _entry(name: str, text: str, width: int) -> str:
    return textwrap.fill(text, 79, initial_indent=f"  {name:<{width}}  ", subsequent_indent=" " * (width + 4),
                         break_on_hyphens=False)


def epilog() -> str:
    """The environment variables and the exit codes, as plain text for ``--help``."""
    env = environment_variables()
    width = max(map(len, env))
    lines = ["environment variables:", *(_entry(name, text, width) for name, text in env.items()), ""]
    lines += ["exit codes (the same for every command):", *(_entry(str(int(c)), t, 3) for c, t in MEANINGS.items()), ""]
    lines.append("refsuite COMMAND --help lists each command's options and their defaults.")
    return "\n".join(lines)
