"""A file lock that says when it is waiting, and on whom: a second process never waits in silence."""
from __future__ import annotations

import contextlib
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


#: where waiting lines go; the pytest plugin points this past pytest's output capture
report: Callable[[str], None] = to_stderr


@contextlib.contextmanager
def waiting_lock(path: Path, what: str) -> Iterator[None]:
    """Hold the lock file ``path``; after a few seconds of waiting, say so every few seconds."""
    lock = FileLock(str(path))
    started = time.monotonic()
    timeout = FIRST_NOTICE_S
    while True:
        try:
            lock.acquire(timeout=timeout)
            break
        except Timeout:
            waited = time.monotonic() - started
            report(f"refsuite: waiting {waited:.0f} s for {what}: another process holds {path}")
            timeout = NOTICE_EVERY_S
    try:
        yield
    finally:
        lock.release()
