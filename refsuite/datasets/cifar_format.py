"""CIFAR-10's on-disk python format: pickled batches plus ``batches.meta``, and their checksums."""
from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np

BASE_FOLDER = "cifar-10-batches-py"  # torchvision.datasets.CIFAR10.base_folder
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"


def md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_batch(path: Path, images_chw: np.ndarray, labels: np.ndarray, batch_label: str) -> None:
    """One batch file (the published files are Python 2 pickles whose keys torchvision reads as str).

    ``data`` is N×3072 uint8 (1024 R, then G, then B, row-major), as CIFAR-10 stores it."""
    n = len(labels)
    entry = {
        "batch_label": batch_label,
        "labels": [int(x) for x in labels],
        "data": np.ascontiguousarray(images_chw.reshape(n, 3 * 32 * 32), dtype=np.uint8),
        "filenames": [f"synthetic_{batch_label.replace(' ', '_')}_{i:05d}.png" for i in range(n)],
    }
    with open(path, "wb") as fh:
        pickle.dump(entry, fh, protocol=2)  # the protocol of the published files


def write_meta(path: Path, label_names, per_batch: int) -> None:
    meta = {"label_names": list(label_names), "num_cases_per_batch": per_batch, "num_vis": 3072}
    with open(path, "wb") as fh:
        pickle.dump(meta, fh, protocol=2)

#: ``label_names`` in the published batches.meta (the tutorial abbreviates the first two).
CIFAR10_LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
