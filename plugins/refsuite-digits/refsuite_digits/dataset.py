"""``digits``: 1,797 real 8×8 handwritten digits (shipped with scikit-learn, so offline), as 1×32×32 images.

Each 8×8 image (values 0..16) is scaled to 0..255 and enlarged 4× (nearest neighbour) to
LeNet's 32×32 input. The split is fixed: a seeded permutation, 1,437 training and 360 test
images.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from refsuite import DatasetPlugin, LoadedDataset

SPLIT_SEED = 0
TEST_SIZE = 360


class DigitsImages(torch.utils.data.Dataset):
    """(PIL greyscale image, label) pairs; ``data`` is N×32×32 uint8 and ``targets`` the labels."""

    def __init__(self, data: np.ndarray, targets: np.ndarray, transform=None) -> None:
        self.data, self.targets, self.transform = data, [int(t) for t in targets], transform
        self.classes = [str(d) for d in range(10)]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        from PIL import Image

        image = Image.fromarray(self.data[index], mode="L")
        return (self.transform(image) if self.transform else image), self.targets[index]


class Digits(DatasetPlugin):
    name = "digits"
    description = "scikit-learn's 8x8 handwritten digits as 1x32x32 (offline, fixed split)"
    capabilities = frozenset({"learnable", "32x32", "ten_classes"})  # greyscale: no "colour"

    def problem(self, root: Path | None, download: bool) -> str | None:
        try:
            import sklearn.datasets  # noqa: F401
        except ImportError:
            return "needs scikit-learn (pip install scikit-learn)"
        return None

    def load(self, root: Path | None, download: bool) -> LoadedDataset:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images = np.rint(bunch.images * (255 / 16)).astype(np.uint8)
        images = images.repeat(4, axis=1).repeat(4, axis=2)  # 8×8 → 32×32
        order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
        test_idx, train_idx = order[:TEST_SIZE], order[TEST_SIZE:]
        train = DigitsImages(images[train_idx], bunch.target[train_idx])
        test = DigitsImages(images[test_idx], bunch.target[test_idx])
        pixels = train.data.astype(np.float64) / 255
        # What ToTensor gives, over the training split: the statistics this dataset documents.
        return LoadedDataset(self.name, train, test, tuple(train.classes), [pixels.mean()], [pixels.std(ddof=1)], channels=1)


DIGITS = Digits()
