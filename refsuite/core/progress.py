"""Progress for people: tqdm's bar on a terminal, plain lines in a log.

A bar redraws itself with carriage returns, which a log file, a pipe or a CI page shows as one
long line or as hundreds of them. Where the stream is not a terminal, :func:`progress` prints
what the bar says (tqdm's own wording) as a line of its own every ``interval`` seconds and once
at the end.
"""
from __future__ import annotations

import sys
import time
from typing import IO, Iterable

#: tqdm's numbers without the bar
PLAIN_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
PLAIN_FORMAT_NO_TOTAL = "{desc}: {n_fmt} [{elapsed}, {rate_fmt}{postfix}]"


def is_terminal(stream: IO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def progress(iterable: Iterable | None = None, *, desc: str, total: int | None = None, unit: str = "it",
             delay: float = 0.0, interval: float = 10.0, file: IO | None = None):
    """A tqdm bar on ``file`` (default stderr) if it is a terminal, else :class:`PlainProgress`.

    Either way: ``update(n)``, ``set_postfix(**values)``, ``n``, iteration, and use as a context manager.
    ``delay``: show nothing for a task that ends sooner.
    """
    stream = file if file is not None else sys.stderr
    if is_terminal(stream):
        from tqdm import tqdm

        return tqdm(iterable, desc=desc, total=total, unit=unit, delay=delay, mininterval=0.5, file=stream)
    return PlainProgress(iterable, desc=desc, total=total, unit=unit, delay=delay, interval=interval, file=stream)


def write(line: str, file: IO | None = None) -> None:
    """Print a line without breaking a bar that is showing (tqdm.write on a terminal)."""
    from tqdm import tqdm

    tqdm.write(line, file=file)


class PlainProgress:
    """What tqdm's bar says, as whole lines: every ``interval`` seconds and at the end (not
    before ``delay`` seconds have passed)."""

    def __init__(self, iterable: Iterable | None = None, *, desc: str, total: int | None = None, unit: str = "it",
                 delay: float = 0.0, interval: float = 10.0, file: IO | None = None) -> None:
        self.iterable, self.desc, self.unit, self.delay, self.interval = iterable, desc, unit, delay, interval
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.file = total, file if file is not None else sys.stderr
        self.n, self.postfix, self.closed = 0, None, False
        self.started = self.shown = time.monotonic()

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self) -> "PlainProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.shown >= self.interval and now - self.started >= self.delay:
            self.shown = now
            self._line(now)

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items()) or None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        now = time.monotonic()
        if now - self.started >= self.delay:
            self._line(now)

    def _line(self, now: float) -> None:
        from tqdm import tqdm

        text = tqdm.format_meter(self.n, self.total, now - self.started, prefix=self.desc, unit=self.unit,
                                 postfix=self.postfix,
                                 bar_format=PLAIN_FORMAT if self.total else PLAIN_FORMAT_NO_TOTAL)
        print(text, file=self.file, flush=True)
