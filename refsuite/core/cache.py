"""Where refsuite and its plugins keep what they generate or build once per machine.

Whatever is read back from the cache is trusted as far as the cache itself is, and a path is only as
private as its least private component: every component from ``/`` down is checked, as ssh checks
the path to ``authorized_keys``. A component must be owned by you or root and not writable by group
or others, unless it is a sticky directory such as ``/tmp`` (there others may add entries but not
rename or remove yours, and what lies below is checked in turn). A symbolic link along the way is
followed only when you or root own it and where it leads passes the same check. The cache directory
itself must be yours, private, and not a link.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import UsageError

CACHE_ENV = "REFSUITE_CACHE"
CACHE_FIX = f"set ${CACHE_ENV} to a directory of your own"
#: symbolic links followed while checking one path, as the kernel's ELOOP limit
_MAX_LINKS = 40


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "refsuite")


class _Untrusted(Exception):
    """``path`` (a real path) could be changed by someone other than you or root: ``why`` says how."""

    def __init__(self, path: str, why: str, info: os.stat_result | None = None) -> None:
        super().__init__(path, why)
        self.path, self.why, self.info = path, why, info


def _check(path: str, info: os.stat_result, *, mine: bool = False) -> None:
    """Raise _Untrusted when a user other than you (or root, unless ``mine``) can change ``path``."""
    me = os.getuid()
    if info.st_uid != me and (mine or info.st_uid != 0):
        raise _Untrusted(path, "owner", info)
    sticky_dir = stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and (mine or not sticky_dir):
        raise _Untrusted(path, "writable", info)


def _step(real: str, name: str, create: bool, links: list[int]) -> str:
    """The real path of ``real/name``, checked; ``real`` is a checked, real directory."""
    if name in ("", "."):
        return real
    if name == "..":
        return os.path.dirname(real)
    here = os.path.join(real, name)
    try:
        info = os.lstat(here)
    except FileNotFoundError:
        if not create:
            raise
        # One component at a time under a parent already checked: nobody else can have put a link
        # here first, and if one of our own processes made it meanwhile, it is checked below.
        try:
            os.mkdir(here, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(here)
    if stat.S_ISLNK(info.st_mode):
        if info.st_uid not in (os.getuid(), 0):
            raise _Untrusted(here, "link owner", info)
        links[0] += 1
        if links[0] > _MAX_LINKS:
            raise _Untrusted(here, "loop")
        target = os.readlink(here)
        try:
            # where a link leads was chosen by whoever made it, not by you: nothing is created there
            return _resolve("/" if target.startswith("/") else real, target.split("/"), False, links)
        except FileNotFoundError:
            raise _Untrusted(here, "dangling") from None
    _check(here, info)
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(20, "Not a directory", here)
    return here


def _resolve(real: str, names: list[str], create: bool, links: list[int]) -> str:
    for name in names:
        real = _step(real, name, create, links)
    return real


def _refusal(shown: str, exc: _Untrusted, fix: str, via_link: bool, root_ok: bool = True) -> UsageError:
    info = exc.info
    uid = info.st_uid if info is not None else None
    mode = stat.filemode(info.st_mode) if info is not None else ""
    if exc.why == "link owner":
        why = f"a symlink owned by uid {uid}, not by you (uid {os.getuid()}) or root"
    elif exc.why == "loop":
        why = "too many levels of symbolic links"
    elif exc.why == "dangling":
        why = f"a symlink to {os.readlink(exc.path)!r}, which does not exist"
    elif via_link and exc.why == "owner":
        why = f"a symlink to a directory owned by uid {uid} ({exc.path})"
    elif via_link:
        why = f"a symlink to a directory group or others may write ({exc.path}, mode {mode})"
    elif exc.why == "owner":
        why = f"it is owned by uid {uid}, not by you (uid {os.getuid()})" + (" or root" if root_ok else "")
    else:
        return UsageError(f"refusing {shown}: group or others may write it (mode {mode}); "
                          f"run `chmod go-w {shown}` or {fix}")
    return UsageError(f"refusing {shown}: {why}; {fix}")


def _walk(path: Path, *, create: bool, fix: str, mine: bool) -> None:
    """Check (and with ``create``, make) every component of ``path``; the last one must be a real
    directory or file, private, and yours (``mine``) or, failing that, root's."""
    absolute = Path(os.getcwd(), path) if not path.is_absolute() else path
    *parents, last = absolute.parts
    links = [0]
    real, shown = "/", "/"
    try:
        _check("/", os.lstat("/"))
    except _Untrusted as exc:
        raise _refusal("/", exc, fix, via_link=False) from None
    for name in parents[1:]:
        shown = os.path.join(shown, name)
        try:
            new = _step(real, name, create, links)
        except _Untrusted as exc:
            raise _refusal(shown, exc, fix, via_link=exc.path != os.path.join(real, name)) from None
        real = new
    if last in ("/", ".", ".."):  # the path names a directory through its parent: it is what was checked
        real = _step(real, last.strip("/"), False, links)
        info = os.lstat(real)
        here = real
    else:
        here = os.path.join(real, last)
        if create:
            try:
                os.mkdir(here, 0o700)
            except FileExistsError:
                pass
        info = os.lstat(here)
    shown = str(path)
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(f"refusing {shown}: it is a symbolic link (refsuite does not follow links at the end of "
                         f"a path it trusts); {fix}")
    try:
        _check(here, info, mine=mine)
    except _Untrusted as exc:
        raise _refusal(shown, exc, fix, via_link=False, root_ok=not mine) from None


def refuse_unless_private(path: Path, *, fix: str = CACHE_FIX, mine: bool = True) -> None:
    """Raise UsageError unless nobody but you (and root) can change what ``path`` holds: every component
    from ``/`` down is checked (see the module's docstring). ``path`` itself must not be a symbolic
    link, nor writable by group or others, and must be yours (``mine``) or else root's. ``fix`` ends
    the message: what the user should do instead. A path that does not exist raises FileNotFoundError."""
    path = Path(path)
    if not hasattr(os, "getuid"):  # no owners to compare (Windows): only a link is refused
        if path.is_symlink():
            raise UsageError(f"refusing {path}: it is a symbolic link; {fix}")
        return
    _walk(path, create=False, fix=fix, mine=mine)


def private_dir(path: Path) -> Path:
    """``path``, created readable and writable by its owner only, after checking nobody else controls it.

    Missing components are made one at a time (mode 0700), each only after its parent was checked,
    and never inside a place a symbolic link leads to."""
    path = Path(path)
    try:
        if not hasattr(os, "getuid"):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            refuse_unless_private(path)
        else:
            _walk(path, create=True, fix=CACHE_FIX, mine=True)
    except OSError as exc:
        raise UsageError(f"cannot use {path} as a cache directory ({exc.strerror or exc}); {CACHE_FIX}") from None
    if not path.is_dir():
        raise UsageError(f"cannot use {path} as a cache directory (it is not a directory); {CACHE_FIX}")
    return path


def private_tree(path: Path, *, fix: str = CACHE_FIX, mine: bool = True) -> list[str]:
    """Check ``path`` with :func:`refuse_unless_private`, then everything below it without following
    links: a symbolic link or an entry another user owns raises UsageError; what group or others may
    write is returned (the caller decides: regenerate it, or refuse). A missing ``path`` raises
    FileNotFoundError."""
    refuse_unless_private(path, fix=fix, mine=mine)
    if not hasattr(os, "getuid"):
        return []
    writable = []
    me = os.getuid()
    for top, dirs, files in os.walk(path, followlinks=False):
        for name in dirs + files:
            entry = os.path.join(top, name)
            info = os.lstat(entry)
            if stat.S_ISLNK(info.st_mode):
                raise UsageError(f"refusing {entry}: a symbolic link inside {path} (refsuite does not follow links "
                                 f"where it reads pickles); remove it, or {fix}")
            if info.st_uid != me and (mine or info.st_uid != 0):
                raise UsageError(f"refusing {entry}: it is owned by uid {info.st_uid}, not by you (uid {me}); "
                                 f"remove it, or {fix}")
            if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                writable.append(entry)
    return writable
