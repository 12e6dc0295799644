"""Machine-readable run records (``--record``): the environment's facts and per-unit results.

:func:`environment` is the one place refsuite collects facts about the machine and its software:
records, ``refsuite train``'s metrics, ``refsuite doctor`` and the benchmarks' machine info all use it.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import stat
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from .._version import __version__
from .errors import DataError, OutputError, UsageError
from .packages import package_problem

#: the layout of ``--record`` files: 2 adds "format", the run's settings ("run") and one summary per
#: unit × kind of comparison; records without "format" are layout 1 (one entry per comparison made)
RECORD_FORMAT = 2


def environment(devices: list[str] | None = None, dataset: str | None = None) -> dict:
    import torch

    # a broken torchvision is a fact to report, not a crash; None: not installed
    tv_problem = package_problem("torchvision")
    if tv_problem is None:
        import torchvision

        tv = torchvision.__version__
    else:
        tv = None if tv_problem.startswith("needs ") else f"unavailable: {tv_problem}"
    return {
        "refsuite": __version__,
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "platform": platform.platform(),
        "host": platform.node(),
        "torch": torch.__version__,
        "torchvision": tv,
        "cuda": torch.version.cuda,
        "cudnn": _cudnn_version(),
        "devices": devices or [],
        "dataset": dataset,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
    }


def _cudnn_version():
    import torch

    try:
        return torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    except RuntimeError as exc:  # torch refuses a cuDNN other than the one it was built with
        return f"unavailable ({(str(exc).strip().splitlines() or [''])[0]})"


#: the largest JSON file refsuite reads: a record of every unit on eight devices is a few MB
MAX_JSON_BYTES = 64 * 2**20
#: the deepest nesting refsuite reads: its records and pytest-benchmark's files nest 6 or 7 deep
MAX_JSON_DEPTH = 64


def read_json(path: str | os.PathLike, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH):
    """The JSON in ``path``; a DataError (a ValueError) that names the file and what went wrong otherwise.

    Files larger than ``max_bytes`` or nested deeper than ``max_depth`` are refused: neither is
    something refsuite wrote, and reading them whole would cost memory or Python's recursion limit.
    """
    try:
        with open(path, "rb") as fh:
            # read one byte past the limit, so that a pipe or /dev/zero is refused too, not only a file
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        limit = f"{max_bytes // 2**20} MB" if max_bytes % 2**20 == 0 else f"{max_bytes:,} bytes"
        raise DataError(f"{path}: larger than {limit}, more than refsuite reads; is it the file you meant?")
    try:
        value = json.loads(data)
    except RecursionError:
        raise DataError(f"{path}: nested deeper than {max_depth} levels, more than refsuite reads") from None
    except ValueError as exc:
        raise DataError(f"{path}: not JSON ({exc})") from None
    if _depth_beyond(value, max_depth):
        raise DataError(f"{path}: nested deeper than {max_depth} levels, more than refsuite reads")
    return value


def _depth_beyond(value, limit: int) -> bool:
    # iterative: the depth limit is what keeps callers' own recursion safe
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def output_problem(path: str | os.PathLike) -> str | None:
    """Why writing ``path`` could replace something other than a regular file, or None.

    A symbolic link is followed only when it and what it points to are the user's own (another
    user's link could aim refsuite, root included, at any file).
    """
    try:
        st = os.lstat(path)
    except OSError:  # nothing there, or no way there: writing says why (ENOTDIR, EACCES...)
        return None
    me = os.geteuid() if hasattr(os, "geteuid") else None
    if stat.S_ISLNK(st.st_mode):
        if me is not None and st.st_uid != me:
            return (f"is a symbolic link owned by another user (uid {st.st_uid}); refsuite follows only its "
                    "own user's links: give the path it points to, or another path")
        try:
            st = os.stat(path)
        except FileNotFoundError:  # a link of one's own to a file not made yet: it is made there
            return None
        except OSError as exc:
            return f"is a symbolic link that cannot be followed ({exc.strerror or exc})"
        if me is not None and st.st_uid != me:
            return (f"is a symbolic link to a file owned by another user (uid {st.st_uid}); "
                    "give a path of your own")
    if stat.S_ISDIR(st.st_mode):
        return "is a directory; give a file name"
    if not stat.S_ISREG(st.st_mode):
        return (f"is a {_KINDS.get(stat.S_IFMT(st.st_mode), 'special file')}; refsuite replaces only a regular "
                "file: give another path")
    return None


_KINDS = {stat.S_IFCHR: "character device", stat.S_IFBLK: "block device", stat.S_IFIFO: "named pipe (FIFO)",
          stat.S_IFSOCK: "socket"}


def _write_failure(path: Path, exc: OSError) -> OutputError:
    number = exc.errno
    reason = f"{exc.strerror or exc} (errno {number})" if number else str(exc)
    if number in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        hint = "free some space or give a path on another disk"
    elif number in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "give a path you may write"
    else:
        hint = "check the disk, or give a path on another one"
    kept = "its previous version is untouched" if path.exists() else "nothing was left there"
    return OutputError(f"could not write {path}: {reason}; {kept}; {hint}", path, number)


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` for the caller to write; renamed over ``path`` once the
    block ends without an error, so a reader never sees half a file, even if we are killed mid-write.

    Only a regular file is replaced (see :func:`output_problem`); a link of the user's own is
    written through. OutputError if ``path`` is refused or writing fails (the temporary file is
    removed, and what was at ``path`` is left as it was).
    """
    path = Path(path).absolute()
    problem = output_problem(path)
    if problem:
        raise OutputError(f"could not write {path}: it {problem}", path)
    target = Path(os.path.realpath(path))
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make the output private
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())  # a disk that is full or failing says so now, not after the rename
        # checked again: the path may have been swapped for a device or another user's link meanwhile
        problem = output_problem(path)
        if problem:
            raise OutputError(f"could not write {path}: it {problem}", path)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise _write_failure(path, exc) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def write_json(path: str | os.PathLike, payload: dict) -> None:
    """Write ``payload`` as JSON at ``path`` through :func:`replacing` (atomic; OutputError if not)."""
    with replacing(path) as tmp:
        with open(tmp, "w") as fh:
            json.dump(payload, fh, indent=2, sort_keys=True)
            fh.write("\n")


def check_writable(path: str | os.PathLike, option: str, *, directory: bool = False,
                   names: tuple[str, ...] = ()) -> Path:
    """``path`` made absolute, once it is known that a file (or, with ``directory``, files inside it,
    ``names`` among them) can be written there; UsageError otherwise.

    Checked before any work starts, so a run never ends by losing its results to a bad path. A
    missing directory is created, as pytest does for --junitxml's parent. Only a regular file, or
    nothing, may be at the path: a device, a pipe or another user's link is refused.
    """
    path = Path(path).expanduser().absolute()
    if directory:
        problem = output_problem(path)
        if problem and not problem.startswith("is a directory"):  # a device, a pipe, another user's link
            raise UsageError(f"{option} {path}: {problem}")
        if path.exists() and not path.is_dir():
            raise UsageError(f"{option} {path}: is a file, not a directory; give a directory")
        for name in names:
            problem = output_problem(path / name)
            if problem:
                raise UsageError(f"{option} {path}: {name} {problem}")
    else:
        problem = output_problem(path)
        if problem:
            raise UsageError(f"{option} {path}: {problem}")
    folder = path if directory else Path(os.path.realpath(path)).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".refsuite-", suffix=".check"):
            pass
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write there ({exc.strerror or exc})") from None
    return path
