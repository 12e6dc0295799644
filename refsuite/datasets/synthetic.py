"""``synthetic-cifar10``: an offline, deterministic, learnable stand-in written in CIFAR-10's format.

Each class is a sinusoidal grating with its own orientation, frequency and colour, plus
noise, so LeNet learns the classes well above chance. The files are read back through
torchvision's own CIFAR10 class with its md5 integrity check kept: the generated files'
checksums replace the published ones. Generation is cached, written atomically
(temporary directory, then rename) under a file lock, and regenerated with a warning
when the cache fails its checksums.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
from filelock import FileLock

from ..core.cache import default_cache_dir
from ..core.errors import DatasetError
from .base import DatasetPlugin, LoadedDataset
from .cifar_format import (BASE_FOLDER, CIFAR10_LABEL_NAMES, META_FILE, TEST_FILE, TRAIN_FILES, md5, reader,
                           write_batch, write_meta)

FORMAT_VERSION = 2
SIZE_ENV = "REFSUITE_SYNTHETIC_SIZE"  # "TRAIN,TEST", e.g. "5000,1000"
MANIFEST = "refsuite-manifest.json"

# One colour per class, far enough apart to tell classes apart by colour alone in part.
_PALETTE = np.array(
    [[0.55, 0.35, 0.35], [0.35, 0.55, 0.35], [0.35, 0.35, 0.55], [0.55, 0.55, 0.35], [0.55, 0.35, 0.55],
     [0.35, 0.55, 0.55], [0.45, 0.45, 0.45], [0.60, 0.45, 0.30], [0.30, 0.45, 0.60], [0.45, 0.60, 0.30]]
)


def render(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """N×3×32×32 uint8 images for the given labels."""
    n = len(labels)
    yy, xx = np.mgrid[0:32, 0:32] / 32.0
    theta = labels * np.pi / 10
    freq = 1.5 + (labels % 4) * 0.75
    phase = rng.uniform(0, 2 * np.pi, n)
    proj = xx[None] * np.cos(theta)[:, None, None] + yy[None] * np.sin(theta)[:, None, None]
    grating = np.sin(2 * np.pi * freq[:, None, None] * proj + phase[:, None, None])
    # Per-image colour jitter and heavy pixel noise keep the task learnable but not trivial.
    colour = _PALETTE[labels] + rng.normal(0, 0.08, (n, 3))
    img = colour[:, :, None, None] + 0.15 * grating[:, None] + rng.normal(0, 0.3, (n, 3, 32, 32))
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def generate(target: Path, train_size: int, test_size: int, seed: int) -> None:
    """Write the dataset into ``target`` (which must not exist yet) and its manifest last."""
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    folder = target / BASE_FOLDER
    folder.mkdir(parents=True)
    per_batch = -(-train_size // len(TRAIN_FILES))
    sums = {}
    total = np.zeros(3)
    total_sq = np.zeros(3)
    count = 0
    plan = [(name, min(per_batch, train_size - i * per_batch)) for i, name in enumerate(TRAIN_FILES)]
    plan.append((TEST_FILE, test_size))
    # delay: only shows a bar when generation takes more than a moment
    for name, n in tqdm(plan, desc="generating synthetic-cifar10", unit="batch", delay=1.0):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = render(rng, labels)
        write_batch(folder / name, images, labels, "testing batch 1 of 1" if name == TEST_FILE else f"training batch {name[-1]} of 5")
        sums[name] = md5(folder / name)
        if name != TEST_FILE:
            pixels = images.astype(np.float64) / 255.0
            total += pixels.sum(axis=(0, 2, 3))
            total_sq += (pixels**2).sum(axis=(0, 2, 3))
            count += n * 32 * 32
    write_meta(folder / META_FILE, CIFAR10_LABEL_NAMES, per_batch)
    sums[META_FILE] = md5(folder / META_FILE)
    mean = total / count
    std = np.sqrt((total_sq - count * mean**2) / (count - 1))  # Bessel, as torch.std
    manifest = {
        "format": FORMAT_VERSION, "seed": seed, "train_size": train_size, "test_size": test_size,
        "md5": sums, "mean": mean.tolist(), "std": std.tolist(),
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2))


class SyntheticCIFAR10(DatasetPlugin):
    name = "synthetic-cifar10"
    description = "offline, deterministic, learnable; CIFAR-10's format read by torchvision (default)"

    def __init__(self, train_size: int | None = None, test_size: int | None = None, seed: int = 0) -> None:
        if train_size is None or test_size is None:
            env = os.environ.get(SIZE_ENV, "5000,1000")
            try:
                env_train, env_test = (int(x) for x in env.split(","))
            except ValueError:
                raise DatasetError(f"{SIZE_ENV}={env!r}: expected TRAIN,TEST such as 5000,1000") from None
            train_size = env_train if train_size is None else train_size
            test_size = env_test if test_size is None else test_size
        if train_size < 10 or test_size < 10:
            raise DatasetError(f"synthetic-cifar10 needs at least 10 images per split, got {train_size},{test_size}")
        self.train_size, self.test_size, self.seed = train_size, test_size, seed

    def directory(self, root: Path | None) -> Path:
        base = Path(root) if root else default_cache_dir()
        return base / f"synthetic-cifar10-v{FORMAT_VERSION}-seed{self.seed}-{self.train_size}-{self.test_size}"

    def problem(self, root: Path | None, download: bool) -> str | None:
        return None  # generated on demand

    def ensure(self, root: Path | None = None) -> tuple[Path, dict]:
        """The cached dataset's directory and manifest, generating it if absent or corrupt."""
        target = self.directory(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target) + ".lock"):
            manifest = self._verified_manifest(target)
            if manifest is None:
                # Holding the lock, any partial directory is a killed writer's leftover.
                for stale in target.parent.glob(f".{target.name}.*.partial"):
                    shutil.rmtree(stale, ignore_errors=True)
                tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
                try:
                    generate(tmp / "data", self.train_size, self.test_size, self.seed)
                    os.replace(tmp / "data", target)  # atomic: a reader sees all or nothing
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                manifest = self._verified_manifest(target)
                if manifest is None:
                    raise DatasetError(f"freshly generated dataset in {target} fails its own checksums")
        return target, manifest

    def _verified_manifest(self, target: Path) -> dict | None:
        if not target.exists():
            return None
        problem = None
        try:
            manifest = json.loads((target / MANIFEST).read_text())
            for name, expected in manifest["md5"].items():
                path = target / BASE_FOLDER / name
                if not path.exists():
                    problem = f"{path} is missing"
                elif md5(path) != expected:
                    problem = f"{path} fails its md5 checksum"
                if problem:
                    break
        except (OSError, ValueError, KeyError) as exc:
            problem = f"{target / MANIFEST} is unreadable ({exc})"
        if problem is None:
            return manifest
        warnings.warn(f"synthetic-cifar10 cache is corrupt ({problem}); regenerating it", stacklevel=3)
        trash = target.with_name(f".{target.name}.corrupt")
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(target, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return None

    def load(self, root: Path | None, download: bool) -> LoadedDataset:
        target, manifest = self.ensure(root)
        sums = manifest["md5"]
        cls = reader([(name, sums[name]) for name in TRAIN_FILES if name in sums], (TEST_FILE, sums[TEST_FILE]),
                     (META_FILE, sums[META_FILE]))
        train = cls(str(target), train=True, download=False)
        test = cls(str(target), train=False, download=False)
        return LoadedDataset(self.name, train, test, tuple(train.classes), manifest["mean"], manifest["std"])

SYNTHETIC_CIFAR10 = SyntheticCIFAR10()
