"""A failure's text as the report object pytest prints: the whole text under FAILURES, its first line
in the short summary.

pytest puts a failure's message after "FAILED <id> - " in its short summary. When the failure is a
plain string, that message is the whole string, and where pytest believes it runs on CI (``CI`` or
``BUILD_NUMBER`` set) or under ``-vv`` it prints it uncut: every failure, with its replay commands,
twice in a backend's CI log. A traceback representation carries a separate one-line crash message;
built from pytest's own classes it also crosses pytest-xdist's wire as itself.
"""
from __future__ import annotations

from _pytest._code.code import ReprEntryNative, ReprExceptionInfo, ReprFileLocation, ReprTraceback


def failure(text: str, path: object, line: int | None) -> ReprExceptionInfo:
    """``text`` printed as it is, with its first line as the crash message pytest's summary shows."""
    first = next((part for part in text.splitlines() if part.strip()), "")
    body = text if text.endswith("\n") else f"{text}\n"
    return ReprExceptionInfo(
        reprtraceback=ReprTraceback(reprentries=[ReprEntryNative([body])], extraline=None, style="native"),
        reprcrash=ReprFileLocation(path=str(path), lineno=line or 0, message=first),
    )
