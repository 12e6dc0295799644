"""CIFAR-10's on-disk python format: pickled batches plus ``batches.meta``, their checksums, and
torchvision's reader with its integrity check kept but each file hashed once per load."""
from __future__ import annotations

import hashlib
import os
import pickle
import stat
from pathlib import Path

import numpy as np

from ..core.errors import DatasetError
from ..core.packages import require

BASE_FOLDER = "cifar-10-batches-py"  # torchvision.datasets.CIFAR10.base_folder
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"


def read_nofollow(path: Path) -> bytes:
    """A regular file's bytes, from one descriptor opened without following a link at the end of ``path``
    (OSError otherwise: missing, a link, a directory, a device)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    with open(os.open(path, flags), "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise IsADirectoryError(21, "not a regular file", str(path))
        return fh.read()


def hashed_read(path: Path, algorithm: str = "md5") -> tuple[bytes, str]:
    """``path``'s bytes, read once (see :func:`read_nofollow`), and their hex digest: whoever then
    unpickles them unpickles exactly what was hashed."""
    data = read_nofollow(path)
    return data, hashlib.new(algorithm, data, usedforsecurity=False).hexdigest()


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """The file's digest, from its bytes as they are now (nothing remembered between calls: a file's
    size, inode and times say nothing about its content)."""
    return hashed_read(path, algorithm)[1]


def md5(path: Path) -> str:
    return file_digest(path, "md5")


def reader(train_files: list[tuple[str, str]], test_file: tuple[str, str], meta_file: tuple[str, str],
           algorithm: str = "md5", verified: dict[str, bytes] | None = None):
    """torchvision's CIFAR10 class for files with these ``(name, digest)`` sums, its integrity check kept.

    ``verified`` maps a digest to bytes the caller has just read and hashed to it: a file whose bytes
    now equal those is known to match without hashing it again (each file is hashed once per load).
    The class holds them until ``release_verified()``; without them, each file is read and hashed.
    The meta file is unpickled from the very bytes that were checked."""
    require("torchvision", DatasetError)
    import torchvision

    class CheckedCIFAR10(torchvision.datasets.CIFAR10):
        train_list = [list(f) for f in train_files]
        test_list = [list(test_file)]
        meta = {"filename": meta_file[0], "key": "label_names", "md5": meta_file[1]}
        _verified = dict(verified or {})

        @classmethod
        def release_verified(cls) -> None:
            cls._verified.clear()

        def _read_checked(self, name: str, expected: str) -> bytes | None:
            """The file's bytes when they match ``expected``, else None."""
            path, known = Path(self.root, self.base_folder, name), self._verified.get(expected)
            try:
                if known is not None:
                    data = read_nofollow(path)
                    return data if data == known else None
                data, actual = hashed_read(path, algorithm)
            except OSError:
                return None
            return data if actual == expected else None

        def _check_integrity(self) -> bool:
            # Only the split being read. torchvision opens each file again after this check to
            # unpickle it; the dataset plugins first refuse a dataset directory that anyone but you
            # or root could write (refsuite.core.cache.private_tree), and the same holds for every
            # directory above it, so no other user can swap a file between this check and that read.
            return all(self._read_checked(name, expected) is not None
                       for name, expected in (self.train_list if self.train else self.test_list))

        def _load_meta(self) -> None:
            data = self._read_checked(self.meta["filename"], self.meta["md5"])
            if data is None:
                raise RuntimeError("Dataset metadata file not found or corrupted. You can use download=True to download it")
            self.classes = pickle.loads(data, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    return CheckedCIFAR10


def batch_bytes(images_chw: np.ndarray, labels: np.ndarray, batch_label: str) -> bytes:
    """One batch file's bytes (the published files are Python 2 pickles whose keys torchvision reads as str).

    ``data`` is N×3072 uint8 (1024 R, then G, then B, row-major), as CIFAR-10 stores it."""
    n = len(labels)
    entry = {
        "batch_label": batch_label,
        "labels": [int(x) for x in labels],
        "data": np.ascontiguousarray(images_chw.reshape(n, 3 * 32 * 32), dtype=np.uint8),
        "filenames": [f"synthetic_{batch_label.replace(' ', '_')}_{i:05d}.png" for i in range(n)],
    }
    return pickle.dumps(entry, protocol=2)  # the protocol of the published files


def meta_bytes(label_names, per_batch: int) -> bytes:
    return pickle.dumps({"label_names": list(label_names), "num_cases_per_batch": per_batch, "num_vis": 3072},
                        protocol=2)


#: ``label_names`` in the published batches.meta (the tutorial abbreviates the first two).
CIFAR10_LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
