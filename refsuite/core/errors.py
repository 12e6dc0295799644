"""The exceptions refsuite raises on purpose; one root so callers can catch them all.

One class per kind of error, each carrying the exit code the ``refsuite`` command ends with when
it reaches the command (:mod:`refsuite.core.exit_codes` says what each code means). Raise the
narrowest kind that fits; the command prints the message as one line and exits with its code.

Data and plugin errors are ValueErrors too: callers (and plugin authors' tests) that caught the
ValueError these places raised keep working.
"""
from __future__ import annotations

from pathlib import Path

from .exit_codes import Exit


class RefsuiteError(Exception):
    """Root of every error refsuite raises on purpose; raise one of its kinds, not the root."""

    exit_code: Exit = Exit.INTERNAL
    #: what the command's one line says before the message
    heading = "error: "


class UsageError(RefsuiteError):
    """The user asked for something that cannot be given (an option's value, a setting, an output
    path that cannot be written): nothing ran."""

    exit_code = Exit.USAGE


class DeviceError(UsageError):
    """A device that cannot be used: unknown to torch and the plugins, absent here, or its plugin broken.

    A usage error (the user named it), so ``except UsageError`` still catches it."""


class DataError(RefsuiteError, ValueError):
    """An input that cannot be read or is not what it claims: a record, a manifest, a JSON file."""

    exit_code = Exit.USAGE


class DatasetError(DataError):
    """A dataset is missing, incomplete or corrupt on disk."""


class PluginError(RefsuiteError, ValueError):
    """A plugin (units, a device, a dataset, a benchmark variant) broke refsuite's contract or
    misbehaved (raised KeyboardInterrupt, called sys.exit()): a failure, as a broken plugin fails a run."""

    exit_code = Exit.FAILED


class DuplicateUnitError(PluginError):
    """Two providers registered a unit with the same id."""


class OutputError(RefsuiteError):
    """An output could not be written: refused (not a regular file) or failed (disk full, I/O error).

    Raised once the work is done, so it is a failure rather than a usage error; its message is one
    line that says what was kept, and the path's previous contents, if any, are untouched.
    """

    exit_code = Exit.FAILED
    # the message reads as a report of what happened ("could not write ..."), as the pytest plugin prints it
    heading = ""

    def __init__(self, message: str, path: Path, errno_: int | None = None) -> None:
        super().__init__(message)
        self.path, self.errno = path, errno_


class InternalError(RefsuiteError):
    """refsuite itself is wrong: a state its own code should never reach."""

    exit_code = Exit.INTERNAL
