"""``cifar10``: the real CIFAR-10 through torchvision, from ``--data-root`` (or $REFSUITE_DATA_ROOT).

Nothing is downloaded without ``--download``, and a missing root is never created.
Every file's md5 is checked against the published sums (torchvision's) before it is unpickled,
once per file per load.
"""
from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from ..core.cache import default_cache_dir, private_dir
from ..core.errors import DatasetError
from ..core.locks import waiting_lock
from ..tutorial import golden
from .base import DATA_ROOT_ENV, DatasetPlugin, LoadedDataset
from .cifar_format import BASE_FOLDER, md5, reader


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
        if root is None:
            return f"no data root: pass --data-root PATH or set ${DATA_ROOT_ENV}"
        if not root.is_dir():
            state = "is not a directory" if root.exists() else "does not exist (it is not created for you)"
            return f"data root {root} {state}"
        if download:
            return None
        folder = root / BASE_FOLDER
        for name, expected in _published_files():
            path = folder / name
            if not path.exists():
                return f"{path} is missing: expected CIFAR-10's python files in {folder} (use --download to fetch them)"
            actual = md5(path)
            if actual != expected:
                return f"{path} is corrupt: md5 {actual} != published {expected}; delete it and use --download"
        return None

    def load(self, root: Path | None, download: bool) -> LoadedDataset:
        problem = self.problem(root, download)
        if problem:
            raise DatasetError(problem)
        cls = reader(*_published())
        # parallel workers (pytest -n) asking to download wait for one another instead of racing
        lock = waiting_lock(_download_lock(root), f"the CIFAR-10 download into {root}") if download \
            else contextlib.nullcontext()
        try:
            with lock:
                train = cls(str(root), train=True, download=download)
            test = cls(str(root), train=False, download=False)
        except (OSError, RuntimeError) as exc:  # URLError is an OSError
            action = f"downloading CIFAR-10 into {root}" if download else f"reading CIFAR-10 from {root}"
            raise DatasetError(f"{action} failed: {getattr(exc, 'reason', None) or exc}") from None
        return LoadedDataset(self.name, train, test, tuple(train.classes), golden.CIFAR10_MEAN, golden.CIFAR10_STD)

CIFAR10_DATASET = CIFAR10()
