"""CIFAR-10's on-disk python format: pickled batches plus ``batches.meta``, their checksums, and
torchvision's reader with its integrity check kept but each file hashed once per load."""
from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np

from ..core.errors import DatasetError
from ..core.packages import require

BASE_FOLDER = "cifar-10-batches-py"  # torchvision.datasets.CIFAR10.base_folder
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"


#: (algorithm, path, device, inode, size, mtime) -> hex digest: a replaced or rewritten file is hashed again
_HASHED: dict[tuple, str] = {}


def _hash(path: Path, algorithm: str = "md5") -> str:
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """The file's digest, computed once per version of the file in this process.

    torchvision's CIFAR10 checks every file for the train split and again for the test split; the
    dataset plugins check them before that. Keyed by the file's identity, those checks share one pass.
    """
    info = os.stat(path)
    key = (algorithm, os.fspath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    if key not in _HASHED:
        _HASHED[key] = _hash(Path(path), algorithm)
    return _HASHED[key]


def md5(path: Path) -> str:
    return file_digest(path, "md5")


def reader(train_files: list[tuple[str, str]], test_file: tuple[str, str], meta_file: tuple[str, str],
           algorithm: str = "md5"):
    """torchvision's CIFAR10 class for files with these ``(name, digest)`` sums, its integrity check
    done with :func:`file_digest`: each file hashed once per load, and always before it is unpickled."""
    require("torchvision", DatasetError)
    import torchvision

    class CheckedCIFAR10(torchvision.datasets.CIFAR10):
        train_list = [list(f) for f in train_files]
        test_list = [list(test_file)]
        meta = {"filename": meta_file[0], "key": "label_names", "md5": meta_file[1]}

        def _matches(self, name: str, expected: str) -> bool:
            path = Path(self.root, self.base_folder, name)
            return path.is_file() and not path.is_symlink() and file_digest(path, algorithm) == expected

        def _check_integrity(self) -> bool:
            return all(self._matches(name, expected) for name, expected in self.train_list + self.test_list)

        def _load_meta(self) -> None:
            if not self._matches(self.meta["filename"], self.meta["md5"]):
                raise RuntimeError("Dataset metadata file not found or corrupted. You can use download=True to download it")
            with open(Path(self.root, self.base_folder, self.meta["filename"]), "rb") as infile:
                data = pickle.load(infile, encoding="latin1")
            self.classes = data[self.meta["key"]]
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
