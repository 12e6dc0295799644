"""A time limit per unit: a hung unit fails by name and the run goes on.

The limit is an alarm (SIGALRM) on the main thread, which runs every unit in a pytest process
(xdist's workers included). Its exception derives from BaseException, not Exception, so that
hypothesis does not take it for a failing example and run the hung code again to shrink it. Code
that never returns to the interpreter (a kernel spinning in C) is stopped when it does; where
there is no SIGALRM (Windows), or off the main thread, units run without a limit.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

#: seconds a unit may run unless it or the run says otherwise: generous, for a slow device's first
#: compile and the slow units' real training
DEFAULT_S = 900.0


class UnitTimeout(BaseException):
    """The unit ran past its time limit."""


def _raise(signum, frame) -> None:
    __tracebackhide__ = True
    raise UnitTimeout


def supported() -> bool:
    return hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def limit(seconds: float | None) -> Iterator[None]:
    """Raise UnitTimeout in the block once ``seconds`` have passed (None or 0: no limit)."""
    if not seconds or not supported():
        yield
        return
    before = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


__all__ = ["DEFAULT_S", "UnitTimeout", "limit", "supported"]
