"""Ctrl-C, SIGTERM and SIGHUP that a run cannot lose.

Python runs a signal's handler in whatever Python code runs next. When that is a garbage
collector callback (hypothesis times the collector with one), a ``__del__`` or a weakref
callback, the KeyboardInterrupt it raises is printed as "Exception ignored in ..." and the run
goes on: a run interrupted there would finish and could exit 0. The handler here also remembers
the signal, and :func:`check` raises it again at the next safe point: before each hypothesis
example, before each unit, after each training step.

SIGTERM (how CI runners and batch schedulers stop a job) and SIGHUP (a closed terminal) are
handled as Ctrl-C is, where their action is still the default (killing the process at once): the
run unwinds, so the units that finished are kept in the record and the JUnit report, temporary
directories are removed, and the exit code says which signal it was (128 + its number).
"""
from __future__ import annotations

import signal
import threading

#: the signals handled, where the process still has their default disposition
_SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
if hasattr(signal, "SIGHUP"):  # not on Windows
    _SIGNALS[signal.SIGHUP] = "SIGHUP"

_received: int | None = None
_installed: list[int] = []


def _handler(signum, frame) -> None:
    __tracebackhide__ = True  # pytest points at the code that was running, not at this handler
    global _received
    _received = signum
    raise KeyboardInterrupt


def _default(signum: int):
    return signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL


def install() -> bool:
    """Remember the signals from now on, where each still has Python's default handling; a handler
    someone else set stays theirs. True if this call installed any: only that caller uninstalls."""
    global _received
    if threading.current_thread() is not threading.main_thread() or _installed:
        return False
    _received = None
    for signum in _SIGNALS:
        if signal.getsignal(signum) is _default(signum):
            signal.signal(signum, _handler)
            _installed.append(signum)
    return bool(_installed)


def uninstall() -> None:
    """Python's default handling again, and nothing remembered."""
    global _received
    if threading.current_thread() is threading.main_thread():
        for signum in _installed:
            if signal.getsignal(signum) is _handler:
                signal.signal(signum, _default(signum))
        _installed.clear()
    _received = None


def active() -> bool:
    """Whether the handler is installed: a KeyboardInterrupt then came from a signal only if
    :func:`received` says so (a plugin can raise one itself)."""
    return bool(_installed)


def raised_by_code() -> bool:
    """Whether a KeyboardInterrupt being handled now was raised by code itself (a plugin's), not by a
    signal: only knowable while the handler is installed."""
    return active() and not received()


def received() -> bool:
    """Whether a handled signal arrived since :func:`install`, whether or not its KeyboardInterrupt got through."""
    return _received is not None


def describe() -> str:
    """The signal that arrived, as a person names it ("Ctrl-C", "SIGTERM"); "Ctrl-C" when none did."""
    return _SIGNALS.get(_received, "Ctrl-C")


def exit_code() -> int:
    """128 + the signal's number, as shells report a process that a signal stopped (130 for Ctrl-C)."""
    return 128 + int(_received if _received is not None else signal.SIGINT)


def check() -> None:
    """Raise KeyboardInterrupt again if a signal arrived: a safe point between two pieces of work."""
    if _received is not None:
        raise KeyboardInterrupt
