"""Reading a ``synthetic-cifar10`` generation's files back without torchvision, each checked against
the digests the code computes before it is unpickled: the reference torchvision's reader is
compared with, and the loaded dataset that knows what was written."""
from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Iterator

import numpy as np

from ..core.errors import DatasetError
from .base import LoadedDataset
from .cifar_format import META_FILE, TEST_FILE, TRAIN_FILES, hashed_read
from .synthetic_generation import batches


@dataclasses.dataclass(frozen=True)
class WrittenSplit:
    """One split as the files hold it, decoded by refsuite: ``images`` N×32×32×3 uint8 (HWC, RGB),
    ``labels`` N int64, ``files`` each file's name and image count, in order. Read-only arrays."""

    images: np.ndarray
    labels: np.ndarray
    files: tuple


@dataclasses.dataclass(frozen=True)
class Written:
    """What a generation wrote: both splits and ``label_names`` (batches.meta), decoded by refsuite."""

    train: WrittenSplit
    test: WrittenSplit
    label_names: tuple


def _unpickle_checked(path: Path, digest: str):
    try:
        data, actual = hashed_read(path, "sha256")  # one read: the bytes hashed are the bytes unpickled
    except OSError as exc:
        raise DatasetError(f"cannot read {path} ({exc.strerror or exc}): load the dataset again to regenerate it") from None
    if actual != digest:
        raise DatasetError(f"{path} is corrupt: its sha256 {actual} does not match the generated data's {digest}; "
                           f"load the dataset again to regenerate it")
    return pickle.loads(data, encoding="latin1")


def read_written(folder: Path, digests: dict) -> Written:
    """Decode the files in ``folder`` without torchvision, each checked against ``digests`` (from the
    code) before it is unpickled: the reference torchvision's reader is compared with.

    A batch's ``data`` rows are 1024 R, then G, then B values, row-major (:func:`batch_bytes`)."""

    def split(names) -> WrittenSplit:
        images, labels, files = [], [], []
        for name in names:
            entry = _unpickle_checked(folder / name, digests[name])
            chw = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            images.append(chw.transpose(0, 2, 3, 1))
            labels.append(np.asarray(entry["labels"], dtype=np.int64))
            files.append((name, len(chw)))
        hwc, ints = np.concatenate(images), np.concatenate(labels)
        hwc.setflags(write=False)
        ints.setflags(write=False)
        return WrittenSplit(hwc, ints, tuple(files))

    meta = _unpickle_checked(folder / META_FILE, digests[META_FILE])
    return Written(split(TRAIN_FILES), split([TEST_FILE]), tuple(meta["label_names"]))


@dataclasses.dataclass
class SyntheticDataset(LoadedDataset):
    """The loaded dataset, which also knows what the plugin wrote: the files in ``folder`` with
    ``digests``, generated from ``seed`` at ``sizes`` (train, test)."""

    folder: Path | None = None
    seed: int = 0
    sizes: tuple = ()
    digests: dict = dataclasses.field(default_factory=dict)
    _written: Written | None = dataclasses.field(default=None, init=False, repr=False, compare=False)

    def written(self) -> Written:
        """Both splits decoded from the files by refsuite (see :func:`read_written`), once per load."""
        if self._written is None:
            self._written = read_written(self.folder, self.digests)
        return self._written

    def generated(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """The batches regenerated from the seed, in file order (see :func:`batches`)."""
        return batches(self.seed, *self.sizes)
