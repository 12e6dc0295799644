"""Ctrl-C that a run cannot lose.

Python runs a signal's handler in whatever Python code runs next. When that is a garbage
collector callback (hypothesis times the collector with one), a ``__del__`` or a weakref
callback, the KeyboardInterrupt it raises is printed as "Exception ignored in ..." and the run
goes on: a run interrupted there would finish and could exit 0. The handler here also remembers
the signal, and :func:`check` raises it again at the next safe point: before each hypothesis
example, before each unit, after each training step.
"""
from __future__ import annotations

import signal
import threading

_received = False


def _handler(signum, frame) -> None:
    global _received
    _received = True
    raise KeyboardInterrupt


def install() -> bool:
    """Remember SIGINT from now on, where it is Python's default; a handler someone else set stays theirs.

    True if this call installed it: only that caller uninstalls it.
    """
    global _received
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return False
    _received = False
    signal.signal(signal.SIGINT, _handler)
    return True


def uninstall() -> None:
    """Python's default handler again, and nothing remembered."""
    global _received
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is _handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    _received = False


def received() -> bool:
    """Whether SIGINT arrived since :func:`install`, whether or not its KeyboardInterrupt got through."""
    return _received


def check() -> None:
    """Raise KeyboardInterrupt again if SIGINT arrived: a safe point between two pieces of work."""
    if _received:
        raise KeyboardInterrupt
