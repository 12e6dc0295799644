"""The refsuite command's exit codes: one table, which ``refsuite --help`` prints and every error carries.

One code per kind of outcome, the same in every subcommand, and pytest's own where they overlap:
``refsuite run`` is a pytest run, and ``pytest --device=cuda`` and ``refsuite run --device cuda``
stop with the same code. It lives in core so that :mod:`refsuite.core.errors` can name each
error's code without importing the CLI.
"""
from __future__ import annotations

import enum


class Exit(enum.IntEnum):
    OK = 0
    FAILED = 1
    INTERNAL = 3
    USAGE = 4
    NOTHING_SELECTED = 5
    HANGUP = 129
    INTERRUPTED = 130
    TERMINATED = 143


#: pytest's INTERRUPTED (2) is Ctrl-C; refsuite says 130 for it everywhere, as shells do
PYTEST_INTERRUPTED = 2

MEANINGS = {
    Exit.OK: "success",
    Exit.FAILED: "something failed: a unit (run), a benchmark (bench), a unit that passed in A fails in B "
                 "(compare), a plugin or the default dataset (doctor), an output that could not be written "
                 "once the work was done",
    Exit.INTERNAL: "internal error (pytest's, or refsuite's own)",
    Exit.USAGE: "usage error, nothing ran: an unknown option, a value out of range, an option given "
                "twice, an unknown or unavailable device or dataset, a data root, cache or setting that "
                "cannot be used, an output that cannot be written, an input that cannot be read",
    Exit.NOTHING_SELECTED: "nothing selected: run -k, or a list glob, that matches no unit",
    Exit.HANGUP: "stopped by SIGHUP (the terminal closed); what had finished is kept",
    Exit.INTERRUPTED: "interrupted (Ctrl-C); what had finished is kept",
    Exit.TERMINATED: "stopped by SIGTERM (a CI runner or scheduler ending the job); what had finished is kept",
}
