"""``cifar10``: the real CIFAR-10 through torchvision, from ``--data-root`` (or $REFSUITE_DATA_ROOT).

Nothing is downloaded without ``--download``, and a missing root is never created.
Every file's md5 is checked against the published sums (torchvision's) before it is unpickled,
once per file per load. The data root's whole path and the dataset's directory must be such that
nobody but you or root can change them: torchvision opens the files again after the check.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..core.cache import default_cache_dir, private_dir, private_tree, refuse_unless_private
from ..core.errors import DatasetError, UsageError
from ..core.locks import waiting_lock
from ..tutorial import golden
from .base import DATA_ROOT_ENV, DatasetPlugin, LoadedDataset
from .cifar_format import BASE_FOLDER, hashed_read, reader

#: what to do about a data root others could change
_FIX = "copy CIFAR-10 into a directory of your own and pass it as --data-root"


def _published():
    """torchvision's published (name, md5) of the train batches, the test batch and the meta file."""
    from torchvision.datasets import CIFAR10 as TV

    return [tuple(x) for x in TV.train_list], tuple(TV.test_list[0]), (TV.meta["filename"], TV.meta["md5"])


def _published_files() -> list[tuple[str, str]]:
    train, test, meta = _published()
    return [*train, test, meta]


def _download_lock(root: Path) -> Path:
    """A lock file for downloads into ``root``, kept in refsuite's cache, not in the user's data root."""
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return private_dir(default_cache_dir() / "locks") / f"cifar10-download-{key}.lock"


class CIFAR10(DatasetPlugin):
    name = "cifar10"
    capabilities = frozenset({"learnable", "colour", "32x32", "ten_classes"})
    description = f"the real CIFAR-10 via torchvision (--data-root or ${DATA_ROOT_ENV}; --download to fetch)"

    def problem(self, root: Path | None, download: bool) -> str | None:
        problem = self._root_problem(root)
        if problem or download:
            return problem
        return self._files_problem(root, {})

    def _root_problem(self, root: Path | None) -> str | None:
        if root is None:
            return f"no data root: pass --data-root PATH or set ${DATA_ROOT_ENV}"
        if not root.is_dir():
            state = "is not a directory" if root.exists() else "does not exist (it is not created for you)"
            return f"data root {root} {state}"
        try:
            refuse_unless_private(root, fix=_FIX, mine=False)
        except UsageError as exc:
            return str(exc)
        return None

    def _files_problem(self, root: Path, verified: dict) -> str | None:
        """What is wrong with the files (None: all there, private, matching); ``verified`` receives
        their bytes by digest."""
        folder = root / BASE_FOLDER
        for name, expected in _published_files():
            path = folder / name
            if not path.exists() and not path.is_symlink():
                return f"{path} is missing: expected CIFAR-10's python files in {folder} (use --download to fetch them)"
        try:
            writable = private_tree(folder, fix=_FIX, mine=False)
        except UsageError as exc:
            return str(exc)
        except OSError as exc:
            return f"cannot check {folder}: {exc.strerror or exc}"
        if writable:
            return f"refusing {writable[0]}: group or others may write it; run `chmod -R go-w {folder}` or {_FIX}"
        for name, expected in _published_files():
            path = folder / name
            try:
                data, actual = hashed_read(path, "md5")
            except OSError as exc:
                return f"cannot read {path}: {exc.strerror or exc}"
            if actual != expected:
                return f"{path} is corrupt: md5 {actual} != published {expected}; delete it and use --download"
            verified[actual] = data
        return None

    def load(self, root: Path | None, download: bool) -> LoadedDataset:
        problem = self._root_problem(root)
        if problem:
            raise DatasetError(problem)
        try:
            if download:
                # parallel workers (pytest -n) asking to download wait for one another instead of racing
                with waiting_lock(_download_lock(root), f"the CIFAR-10 download into {root}"):
                    _download(root)
        except UsageError as exc:
            raise DatasetError(str(exc)) from None
        except (OSError, RuntimeError) as exc:  # URLError is an OSError
            raise DatasetError(f"downloading CIFAR-10 into {root} failed: {getattr(exc, 'reason', None) or exc}") from None
        verified: dict[str, bytes] = {}
        problem = self._files_problem(root, verified)
        if problem:
            raise DatasetError(problem)
        # torchvision's check compares the files with the bytes just hashed instead of hashing them
        # again; see cifar_format.reader for why the files cannot change before torchvision reads them
        cls = reader(*_published(), verified=verified)
        del verified
        try:
            train = cls(str(root), train=True, download=False)
            test = cls(str(root), train=False, download=False)
        except (OSError, RuntimeError) as exc:
            raise DatasetError(f"reading CIFAR-10 from {root} failed: {exc}") from None
        finally:
            cls.release_verified()
        return LoadedDataset(self.name, train, test, tuple(train.classes), golden.CIFAR10_MEAN, golden.CIFAR10_STD)

def _download(root: Path) -> None:
    """Fetch and unpack the archive into ``root`` unless the files are already there and intact (what
    torchvision's CIFAR10.download does; here the files are checked before anything is unpickled)."""
    from torchvision.datasets import CIFAR10 as TV
    from torchvision.datasets.utils import download_and_extract_archive

    folder = root / BASE_FOLDER
    if os.path.lexists(folder):
        private_tree(folder, fix=_FIX, mine=False)  # never unpack through a link or into another user's folder
    if CIFAR10()._files_problem(root, {}) is None:
        return
    download_and_extract_archive(TV.url, str(root), filename=TV.filename, md5=TV.tgz_md5)


CIFAR10_DATASET = CIFAR10()
