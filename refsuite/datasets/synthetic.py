"""``synthetic-cifar10``: an offline, deterministic, learnable stand-in written in CIFAR-10's format.

Each class is a picture a person tells apart at a glance (stripes in three directions, a
checkerboard, rings, a disc, dots, a cross, a square outline, a triangle), each in its own
colour, moved, turned and scaled per image, with modest noise (:data:`PICTURES`). The files are
read back through torchvision's own CIFAR10 class with its integrity check kept.

What is trusted: generation is deterministic by seed and size, so the files' expected SHA-256
digests come from the code — never from a file beside the data: for the default generation a
table in the code (:data:`KNOWN`, which a test regenerates), otherwise by generating the same bytes
in memory (0.6 s for the default 6,000 images, once per process). A file that does not match is
never unpickled: the cache is regenerated with a warning. The cache is written atomically
(temporary directory, then rename) under a file lock; a valid cache is read without the lock, so
a read-only one works. Its whole path is checked (:mod:`refsuite.core.cache`), and within it the
dataset's directory may hold no symbolic link and nothing another user owns (refused), nor anything
group or others may write (regenerated).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np

from ..core.cache import default_cache_dir, private_dir, private_tree, refuse_unless_private
from ..core.errors import DatasetError, UsageError
from ..core.locks import waiting_lock
from .base import DatasetPlugin, LoadedDataset
from .cifar_format import (BASE_FOLDER, CIFAR10_LABEL_NAMES, META_FILE, TEST_FILE, TRAIN_FILES, batch_bytes,
                           hashed_read, meta_bytes, reader)

FORMAT_VERSION = 4
SIZE_ENV = "REFSUITE_SYNTHETIC_SIZE"  # "TRAIN,TEST", e.g. "5000,1000"
DEFAULT_SIZE = (5000, 1000)
#: images per split that $REFSUITE_SYNTHETIC_SIZE may ask for. The fewest every unit of `refsuite run`
#: passes on: the training loop's unit needs 150 batches of 4 in an epoch (597 was the measured
#: edge, 596 fails). The most: real CIFAR-10's training split; `refsuite run` at 50,000,50,000
#: peaks at 4.0 GB resident (1.3 GB at the default), about 28 kB more per image.
MIN_SIZE, MAX_SIZE = 600, 50_000
#: the fewest images per split a generation may have: one per class (built in code, e.g. for tests)
MIN_IMAGES = 10
#: what the directory holds, for people; nothing in it is trusted
MANIFEST = "refsuite-manifest.json"
#: the pixel noise's standard deviation (pixel values in [0, 1])
NOISE = 0.1

#: each class's colour, hues far apart (every image jitters it)
_PALETTE = np.array(
    [[0.30, 0.55, 1.00],  # plane: blue
     [0.95, 0.20, 0.20],  # car: red
     [1.00, 0.90, 0.20],  # bird: yellow
     [1.00, 0.55, 0.10],  # cat: orange
     [0.75, 0.50, 0.25],  # deer: brown
     [1.00, 0.45, 0.80],  # dog: pink
     [0.25, 0.80, 0.30],  # frog: green
     [0.65, 0.35, 0.95],  # horse: violet
     [0.20, 0.85, 0.85],  # ship: cyan
     [0.92, 0.92, 0.92]]  # truck: white
)
#: each class's picture, in words (the README lists them too)
PICTURES = ("blue horizontal stripes", "red vertical stripes", "yellow diagonal stripes", "orange checkerboard",
            "brown rings", "pink disc", "green dots", "violet cross", "cyan square outline", "white triangle")


def parse_size(text: str, source: str = SIZE_ENV) -> tuple[int, int]:
    """``"TRAIN,TEST"`` as two sizes in range; a UsageError naming ``source`` otherwise."""
    try:
        train, test = (int(x) for x in text.split(","))
    except ValueError:
        raise UsageError(f"{source}={text!r}: expected TRAIN,TEST such as 5000,1000") from None
    for value in (train, test):
        if not MIN_SIZE <= value <= MAX_SIZE:
            raise UsageError(f"{source}={text!r}: each split needs {MIN_SIZE} to {MAX_SIZE:,} images (fewer leave "
                             f"the training units too little data; {MAX_SIZE:,},{MAX_SIZE:,} takes about 4 GB of memory)")
    return train, test


def split_sizes(total: int, parts: int) -> list[int]:
    """``total`` images over ``parts`` files, as even as they go (the first files take the remainder)."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _inside(distance, edge: float = 0.03):
    """1 where ``distance`` < 0 (inside a shape), 0 outside, with an edge ``edge`` wide (anti-aliased)."""
    return 0.5 - 0.5 * np.tanh(distance / edge)


def _pattern(label: int, x, y, phase):
    """The class's picture as a mask in [0, 1] over coordinates x, y in about [-1, 1]."""
    wave = 2 * np.pi * 2.5  # 2.5 cycles per half-width: five stripes across the image
    if label in (0, 1, 2):  # stripes: horizontal, vertical, diagonal
        along = (y, x, (x + y) / np.sqrt(2))[label]
        return 0.5 + 0.5 * np.sin(wave * along + phase)
    if label == 3:  # checkerboard
        return _inside(-np.sin(2 * np.pi * x + phase) * np.sin(2 * np.pi * y + phase), 0.3)
    if label == 4:  # concentric rings
        return 0.5 + 0.5 * np.sin(wave * np.hypot(x, y) + phase)
    if label == 5:  # disc
        return _inside(np.hypot(x, y) - 0.55)
    if label == 6:  # a grid of dots
        return _inside(0.5 - np.cos(2 * np.pi * 1.75 * x + phase) * np.cos(2 * np.pi * 1.75 * y + phase), 0.3)
    if label == 7:  # cross
        return np.maximum(_inside(np.abs(x) - 0.18), _inside(np.abs(y) - 0.18))
    if label == 8:  # square outline
        return _inside(np.abs(np.maximum(np.abs(x), np.abs(y)) - 0.5) - 0.1)
    return _inside(np.maximum(-y - 0.45, 1.8 * np.abs(x) + y - 0.55))  # triangle


def render(rng: np.random.Generator, labels: np.ndarray, noise: float = NOISE) -> np.ndarray:
    """N×3×32×32 uint8 images for the given labels: each class's picture in its colour on a dark
    background, moved, turned, scaled and shifted in phase per image, with pixel noise of standard
    deviation ``noise`` (drawn last, so ``noise=0`` gives the same pictures without it)."""
    n = len(labels)
    grid = (np.arange(32) + 0.5) / 16 - 1
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    shift = rng.uniform(-0.2, 0.2, (n, 2, 1, 1))
    turn = rng.uniform(-0.2, 0.2, (n, 1, 1))
    scale = rng.uniform(0.85, 1.15, (n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    x, y = xx - shift[:, 0], yy - shift[:, 1]
    x, y = (np.cos(turn) * x - np.sin(turn) * y) / scale, (np.sin(turn) * x + np.cos(turn) * y) / scale
    mask = np.empty((n, 32, 32))
    for label in np.unique(labels):
        rows = labels == label
        mask[rows] = _pattern(int(label), x[rows], y[rows], phase[rows])
    # Brightness, tint, background and noise vary per image, not so much that a person looks twice.
    fg = _PALETTE[labels] * rng.uniform(0.8, 1.0, (n, 1)) + rng.normal(0, 0.06, (n, 3))
    bg = rng.uniform(0.03, 0.25, (n, 1)) + rng.normal(0, 0.04, (n, 3))
    # float32 and in place: the default 6,000 images are rendered in every process that checks them
    img = rng.standard_normal((n, 3, 32, 32), dtype=np.float32)
    img *= noise * 255
    img += (255 * bg[:, :, None, None]).astype(np.float32)
    img += mask.astype(np.float32)[:, None] * (255 * (fg - bg)[:, :, None, None]).astype(np.float32)
    return np.clip(np.rint(img, out=img), 0, 255, out=img).astype(np.uint8)


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


class SyntheticCIFAR10(DatasetPlugin):
    name = "synthetic-cifar10"
    description = "offline, deterministic, learnable; CIFAR-10's format read by torchvision (default)"
    capabilities = frozenset({"learnable", "colour", "32x32", "ten_classes"})

    def __init__(self, train_size: int | None = None, test_size: int | None = None, seed: int = 0) -> None:
        # sizes left as None come from $REFSUITE_SYNTHETIC_SIZE when the dataset is used, so a bad
        # setting is a usage error of the run, not a plugin that fails to import
        self._train_size, self._test_size, self.seed = train_size, test_size, seed
        for value in (train_size, test_size):
            if value is not None and not MIN_IMAGES <= value <= MAX_SIZE:
                raise ValueError(f"synthetic-cifar10 needs {MIN_IMAGES} to {MAX_SIZE:,} images per split, got {value}")

    @property
    def sizes(self) -> tuple[int, int]:
        if self._train_size is not None and self._test_size is not None:
            return self._train_size, self._test_size
        env = os.environ.get(SIZE_ENV)
        train, test = parse_size(env) if env else DEFAULT_SIZE
        return (train if self._train_size is None else self._train_size,
                test if self._test_size is None else self._test_size)

    @property
    def train_size(self) -> int:
        return self.sizes[0]

    @property
    def test_size(self) -> int:
        return self.sizes[1]

    def directory(self, root: Path | None) -> Path:
        base = Path(root) if root else default_cache_dir()
        return base / f"synthetic-cifar10-v{FORMAT_VERSION}-seed{self.seed}-{self.train_size}-{self.test_size}"

    def problem(self, root: Path | None, download: bool) -> str | None:
        try:
            self.sizes
            if root is None:
                private_dir(default_cache_dir())
            elif Path(root).is_dir():
                # the data is generated and unpickled there: it must be as private as the cache
                refuse_unless_private(Path(root), fix="choose a data root of your own", mine=False)
            target = self.directory(root)
            if os.path.lexists(target):
                private_tree(target)  # a link or another user's entry is refused, not followed
        except UsageError as exc:
            return str(exc)
        except FileNotFoundError:
            pass  # another process is regenerating it: ensure() waits for its lock
        except OSError as exc:
            return f"cannot check {root or default_cache_dir()}: {exc.strerror or exc}"
        if root is not None and not Path(root).is_dir():
            state = "is not a directory" if Path(root).exists() else "does not exist (it is not created for you)"
            return f"data root {root} {state}"
        return None

    def _verify(self, target: Path, want: Expected) -> tuple[str | None, dict[str, bytes]]:
        """What is wrong with the files in ``target`` (None: every file has the bytes the code generates,
        and nobody but you can change them), and the bytes read, by digest, when nothing is."""
        try:
            writable = private_tree(target)
        except FileNotFoundError:  # replaced by another process meanwhile: checked again under its lock
            return f"{target} is missing", {}
        if writable:
            return f"{writable[0]} is not private (group or others may write it)", {}
        verified = {}
        for name, digest in want.digests.items():
            path = target / BASE_FOLDER / name
            try:
                data, actual = hashed_read(path, "sha256")
            except OSError:
                return f"{path} is missing", {}
            if actual != digest:
                return f"{path} does not match the generated data", {}
            verified[digest] = data
        return None, verified

    def _mismatch(self, target: Path, want: Expected) -> str | None:
        return self._verify(target, want)[0]

    def ensure(self, root: Path | None = None) -> tuple[Path, Expected]:
        """The cached dataset's directory and what it holds, generating it if absent or corrupt."""
        target, want, _ = self._ensure(root)
        return target, want

    def _ensure(self, root: Path | None) -> tuple[Path, Expected, dict[str, bytes]]:
        """:meth:`ensure`, and the files' bytes it checked, by digest."""
        problem = self.problem(root, False)
        if problem:
            raise UsageError(f"dataset {self.name!r} cannot be used: {problem}")
        target = self.directory(root)
        key = (self.seed, self.train_size, self.test_size)
        # An absent cache is generated without rendering it in memory first: generate() records
        # the digests of what it writes.
        if os.path.lexists(target):
            # nothing to write: no lock needed, so a read-only cache works
            known = KNOWN.get((FORMAT_VERSION, *key))
            if known is not None:
                mismatch, verified = self._verify(target, known)
                if mismatch is None:
                    return target, known, verified
            mismatch, verified = self._verify(target, expected(*key))
            if mismatch is None:
                return target, expected(*key), verified
        try:
            with waiting_lock(Path(str(target) + ".lock"), f"{self.name} in {target.parent}"):
                mismatch = self._mismatch(target, expected(*key)) if os.path.lexists(target) else "absent"
                if mismatch is not None:
                    self._generate(target, mismatch)
        except OSError as exc:
            raise DatasetError(f"cannot write {self.name} into {target.parent}: {exc.strerror or exc}") from None
        want = expected(*key)
        mismatch, verified = self._verify(target, want)
        if mismatch is not None:
            raise DatasetError(f"freshly generated {self.name} in {target} fails its check: {mismatch}")
        return target, want, verified

    def _generate(self, target: Path, mismatch: str) -> None:
        if os.path.lexists(target):
            warnings.warn(f"synthetic-cifar10 cache is corrupt ({mismatch}); regenerating it", stacklevel=4)
            trash = target.with_name(f".{target.name}.corrupt")
            shutil.rmtree(trash, ignore_errors=True)
            os.replace(target, trash)
            shutil.rmtree(trash, ignore_errors=True)
        # Holding the lock, any partial directory is a killed writer's leftover.
        for stale in target.parent.glob(f".{target.name}.*.partial"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
        try:
            generate(tmp / "data", self.train_size, self.test_size, self.seed)
            os.replace(tmp / "data", target)  # atomic: a reader sees all or nothing
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def load(self, root: Path | None, download: bool) -> LoadedDataset:
        target, want, verified = self._ensure(root)
        d = want.digests
        # torchvision's check compares the files with the bytes just hashed instead of hashing them
        # again; see cifar_format.reader for why the files cannot change before torchvision reads them
        cls = reader([(name, d[name]) for name in TRAIN_FILES], (TEST_FILE, d[TEST_FILE]), (META_FILE, d[META_FILE]),
                     algorithm="sha256", verified=verified)
        del verified
        try:
            train = cls(str(target), train=True, download=False)
            test = cls(str(target), train=False, download=False)
        except RuntimeError as exc:  # torchvision's own check: a file is not what was just verified
            raise DatasetError(f"{self.name} in {target} changed while it was read ({exc}); load it again") from None
        finally:
            cls.release_verified()
        return SyntheticDataset(self.name, train, test, tuple(train.classes), want.mean, want.std,
                                folder=target / BASE_FOLDER, seed=self.seed, sizes=self.sizes, digests=dict(d))


SYNTHETIC_CIFAR10 = SyntheticCIFAR10()
