"""A file lock that says when it is waiting, and on whom: a second process never waits in silence."""
from __future__ import annotations

import contextlib
import contextvars
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

from filelock import FileLock, Timeout

#: seconds before the first "waiting" line, then between lines
FIRST_NOTICE_S = 3.0
NOTICE_EVERY_S = 15.0


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


#: where waiting lines go when the caller of :func:`waiting_lock` names nowhere: set for a block by
#: :func:`reporting`, for code between the runner and the lock (a dataset plugin's ``load``) that
#: takes no reporter of its own
_REPORT: contextvars.ContextVar[Callable[[str], None]] = contextvars.ContextVar("refsuite_lock_report",
                                                                               default=to_stderr)


@contextlib.contextmanager
def reporting(report: Callable[[str], None]) -> Iterator[None]:
    """Waiting lines of the locks taken in this block go to ``report``."""
    token = _REPORT.set(report)
    try:
        yield
    finally:
        _REPORT.reset(token)


@contextlib.contextmanager
def waiting_lock(path: Path, what: str, report: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock file ``path``; after a few seconds of waiting, say so every few seconds, to
    ``report`` (default: where :func:`reporting` points, or stderr)."""
    say = report or _REPORT.get()
    lock = FileLock(str(path))
    started = time.monotonic()
    timeout = FIRST_NOTICE_S
    while True:
        try:
            lock.acquire(timeout=timeout)
            break
        except Timeout:
            waited = time.monotonic() - started
            say(f"refsuite: waiting {waited:.0f} s for {what}: another process holds {path}")
            timeout = NOTICE_EVERY_S
    try:
        yield
    finally:
        lock.release()
