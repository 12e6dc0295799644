"""What a ``synthetic-cifar10`` generation writes (CIFAR-10's files, from a seed and two sizes) and
the SHA-256 digests and statistics it is expected to have.

Generation is deterministic by seed and size, so the digests come from the code, never from a file
beside the data: for the default generation a table in the code (:data:`KNOWN`, which a test
regenerates), otherwise by generating the same bytes in memory (0.6 s for the default 6,000 images,
once per process).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from .cifar_format import BASE_FOLDER, CIFAR10_LABEL_NAMES, META_FILE, TEST_FILE, TRAIN_FILES, batch_bytes, meta_bytes
from .synthetic_pictures import render

FORMAT_VERSION = 4
#: what the directory holds, for people; nothing in it is trusted
MANIFEST = "refsuite-manifest.json"


def split_sizes(total: int, parts: int) -> list[int]:
    """``total`` images over ``parts`` files, as even as they go (the first files take the remainder)."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


@dataclasses.dataclass(frozen=True)
class Expected:
    """What a generation produces: each file's SHA-256, and the training images' per-channel statistics."""

    digests: dict
    mean: tuple
    std: tuple


def batches(seed: int, train_size: int, test_size: int) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Each batch file's name, images (N×3×32×32 uint8, as rendered) and labels, in the order they are
    generated. Lazy: the first file costs its own rendering only, a later one every rendering before it."""
    rng = np.random.default_rng(seed)
    sizes = split_sizes(train_size, len(TRAIN_FILES))
    for name, n in [*zip(TRAIN_FILES, sizes), (TEST_FILE, test_size)]:
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        yield name, render(rng, labels), labels


def _files(seed: int, train_size: int, test_size: int, stats: dict) -> Iterator[tuple[str, bytes]]:
    """Each file's name and bytes, in order; ``stats`` receives the training pixels' mean and std at the end."""
    sizes = split_sizes(train_size, len(TRAIN_FILES))
    total, total_sq, count = np.zeros(3), np.zeros(3), 0
    for i, (name, images, labels) in enumerate(batches(seed, train_size, test_size)):
        n = len(labels)
        test = name == TEST_FILE
        yield name, batch_bytes(images, labels, "testing batch 1 of 1" if test else f"training batch {i + 1} of 5")
        if not test:
            pixels = images.astype(np.float64) / 255.0
            total += pixels.sum(axis=(0, 2, 3))
            total_sq += (pixels**2).sum(axis=(0, 2, 3))
            count += n * 32 * 32
    yield META_FILE, meta_bytes(CIFAR10_LABEL_NAMES, sizes[0])
    mean = total / count
    stats["mean"] = tuple(mean.tolist())
    stats["std"] = tuple(np.sqrt((total_sq - count * mean**2) / (count - 1)).tolist())  # Bessel, as torch.std


#: (seed, train size, test size) -> what that generation produces, once per process
_EXPECTED: dict[tuple, Expected] = {}


def _floats(hexadecimal: str) -> tuple:
    return tuple(float.fromhex(x) for x in hexadecimal.split())


#: (format, seed, train size, test size) -> what the default generation produces under numpy 2
#: (numpy 1 pickles arrays under other module names). Every run reads the default cache: a cache
#: holding exactly these files is trusted without rendering it again. Anything else (other sizes,
#: another numpy, a corrupt file) is checked against a fresh rendering, so a stale entry costs time,
#: never trust. tests/test_datasets.py checks the entry against the code.
KNOWN: dict[tuple, Expected] = {
    (4, 0, 5000, 1000): Expected(
        digests={
            "data_batch_1": "138969eccef3c492e18c03899397d7477271bb25ddf663e405decb0ecd73381c",
            "data_batch_2": "2e45cb5837843e1173f2e1699b56671df855785d587be151e9909781f3c05560",
            "data_batch_3": "97eaa0c93115f7ef00a207064618019678085be5b6634c327eed23b7a866c777",
            "data_batch_4": "2f8862e4db9d63b5c1a651396a6c7170f180a222e8c64094642af04828e3a643",
            "data_batch_5": "2c4c7b1cbdc1001c8e862326fb56d4500ee51b67cb6654bedd45ca4822cf10aa",
            "test_batch": "944d3aeabd2b4eada141547aa48f864e455aa17f080055bce8ab7a4245d98ebd",
            "batches.meta": "bc309ac4a9363780478b668e065503dbdcfd687744c9283681b963c39f5fc23c",
        },
        # hexadecimal: exact, and hypothesis does not mix these into the floats it draws (it
        # draws float literals found in the project's source)
        mean=_floats("0x1.5437f6c95220cp-2 0x1.1baeef7fad8d8p-2 0x1.01d720996e6c8p-2"),
        std=_floats("0x1.16c861f3946ffp-2 0x1.ad9d38dae816cp-3 0x1.ea3f391a6a156p-3"),
    ),
}


def expected(seed: int, train_size: int, test_size: int) -> Expected:
    """The digests and statistics of a generation, computed by generating it in memory (or taken
    from :func:`generate`, which computes them from the bytes it writes)."""
    key = (seed, train_size, test_size)
    if key not in _EXPECTED:
        stats: dict = {}
        digests = {name: hashlib.sha256(data).hexdigest() for name, data in _files(seed, train_size, test_size, stats)}
        _EXPECTED[key] = Expected(digests, stats["mean"], stats["std"])
    return _EXPECTED[key]


def generate(target: Path, train_size: int, test_size: int, seed: int) -> None:
    """Write the dataset into ``target`` (which must not exist yet)."""
    from ..core.progress import progress

    folder = target / BASE_FOLDER
    target.mkdir(mode=0o700)
    folder.mkdir(mode=0o700)
    stats: dict = {}
    digests = {}
    files = _files(seed, train_size, test_size, stats)
    # delay: only shows a bar when generation takes more than a moment
    for name, data in progress(files, desc="generating synthetic-cifar10", unit="file", total=len(TRAIN_FILES) + 2,
                               delay=1.0):
        _write_private(folder / name, data)
        digests[name] = hashlib.sha256(data).hexdigest()
    # the same bytes the check would generate again: one rendering serves both
    _EXPECTED.setdefault((seed, train_size, test_size), Expected(digests, stats["mean"], stats["std"]))
    manifest = {"format": FORMAT_VERSION, "seed": seed, "train_size": train_size, "test_size": test_size,
                "note": "for people: refsuite checks these files against digests its code computes"}
    _write_private(target / MANIFEST, json.dumps(manifest, indent=2).encode())


def _write_private(path: Path, data: bytes) -> None:
    """A new file only its owner may read or write, whatever the umask."""
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600), "wb") as fh:
        fh.write(data)
