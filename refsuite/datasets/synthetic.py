"""``synthetic-cifar10``: an offline, deterministic, learnable stand-in written in CIFAR-10's format.

The pictures are :mod:`.synthetic_pictures`', the files and their expected digests
:mod:`.synthetic_generation`'s; the files are read back through torchvision's own CIFAR10 class
with its integrity check kept (:mod:`.synthetic_written` reads them without torchvision, for units).

What is trusted: the expected digests come from the code. A file that does not match is never
unpickled: the cache is regenerated with a warning. The cache is written atomically (temporary
directory, then rename) under a file lock; a valid cache is read without the lock, so a read-only
one works. Its whole path is checked (:mod:`refsuite.core.cache`), and within it the dataset's
directory may hold no symbolic link and nothing another user owns (refused), nor anything group or
others may write (regenerated).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

from ..core.cache import default_cache_dir, private_dir, private_tree, refuse_unless_private
from ..core.errors import DatasetError, PluginError, UsageError
from ..core.locks import waiting_lock
from .base import DatasetPlugin, LoadedDataset
from .cifar_format import BASE_FOLDER, META_FILE, TEST_FILE, TRAIN_FILES, hashed_read, reader
from .synthetic_generation import FORMAT_VERSION, KNOWN, MANIFEST, Expected, expected, generate
from .synthetic_pictures import NOISE, PICTURES, render
from .synthetic_written import SyntheticDataset

# the plugin's own names, and the generation's and the pictures' that its users reach through it
__all__ = ["DEFAULT_SIZE", "FORMAT_VERSION", "KNOWN", "MANIFEST", "MAX_SIZE", "MIN_IMAGES", "MIN_SIZE", "NOISE",
           "PICTURES", "SIZE_ENV", "SYNTHETIC_CIFAR10", "SyntheticCIFAR10", "expected", "generate", "parse_size", "render"]

SIZE_ENV = "REFSUITE_SYNTHETIC_SIZE"  # "TRAIN,TEST", e.g. "5000,1000"
DEFAULT_SIZE = (5000, 1000)
#: images per split that $REFSUITE_SYNTHETIC_SIZE may ask for. The fewest every unit of `refsuite run`
#: passes on: the training loop's unit needs 150 batches of 4 in an epoch (597 was the measured
#: edge, 596 fails). The most: real CIFAR-10's training split; `refsuite run` at 50,000,50,000
#: peaks at 4.0 GB resident (1.3 GB at the default), about 28 kB more per image.
MIN_SIZE, MAX_SIZE = 600, 50_000
#: the fewest images per split a generation may have: one per class (built in code, e.g. for tests)
MIN_IMAGES = 10


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
                raise PluginError(f"synthetic-cifar10 needs {MIN_IMAGES} to {MAX_SIZE:,} images per split, got {value}")

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
