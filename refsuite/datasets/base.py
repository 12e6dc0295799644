"""The dataset plugin contract, and the session's chosen dataset."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..core.errors import DatasetError, UsageError
from ..core.registry import DATASET_CAPABILITIES

DEFAULT_DATASET = "synthetic-cifar10"
DATA_ROOT_ENV = "REFSUITE_DATA_ROOT"


@dataclasses.dataclass
class LoadedDataset:
    """What a dataset plugin hands to units.

    ``train`` and ``test`` are torch datasets of (PIL image, int label), as torchvision's are, and
    also hold the whole split as arrays, which the training path reads without decoding images one
    by one (:func:`refsuite.tutorial.data.to_tensors`):

    * ``data``: uint8 images, N×H×W×C (colour) or N×H×W (greyscale);
    * ``targets``: N integer labels in ``range(len(classes))``.
    """

    name: str
    train: Any
    test: Any
    classes: Sequence[str]
    #: per-channel mean and std of the training images after ToTensor, as the dataset documents them
    mean: Sequence[float]
    std: Sequence[float]
    #: input channels (3 for CIFAR-10, 1 for greyscale sets)
    channels: int = 3

    def contract_problems(self, capabilities: frozenset = frozenset()) -> list[str]:
        """What in this dataset breaks the contract, or contradicts the ``capabilities`` declared for it."""
        import numpy as np

        problems = []
        if self.channels not in (1, 3):
            problems.append(f"channels is {self.channels}, not 1 (greyscale) or 3 (colour)")
        for what in ("mean", "std"):
            if len(getattr(self, what)) != self.channels:
                problems.append(f"{what} has {len(getattr(self, what))} values for {self.channels} channel(s)")
        for split in ("train", "test"):
            ds = getattr(self, split)
            data, targets = getattr(ds, "data", None), getattr(ds, "targets", None)
            if data is None or targets is None:
                problems.append(f"{split} has no `data` and `targets` (the decoded arrays)")
                continue
            data, targets = np.asarray(data), np.asarray(targets)
            ndim = 4 if self.channels == 3 else 3
            if data.dtype != np.uint8 or data.ndim != ndim or (ndim == 4 and data.shape[3] != self.channels):
                problems.append(f"{split}.data is {data.dtype} {data.shape}, not uint8 N×H×W" + ("×3" if self.channels == 3 else ""))
                continue
            if len(targets) != len(data) or len(data) == 0:
                problems.append(f"{split} has {len(data)} images and {len(targets)} targets")
            elif targets.min() < 0 or targets.max() >= len(self.classes):
                problems.append(f"{split}.targets run from {targets.min()} to {targets.max()}, outside 0..{len(self.classes) - 1}")
            if "32x32" in capabilities and data.shape[1:3] != (32, 32):
                problems.append(f"declares 32x32 but {split} images are {data.shape[1]}×{data.shape[2]}")
        if "colour" in capabilities and self.channels != 3:
            problems.append(f"declares colour but has {self.channels} channel(s)")
        if "ten_classes" in capabilities and len(self.classes) != 10:
            problems.append(f"declares ten_classes but has {len(self.classes)} classes")
        return problems


class DatasetPlugin:
    """Subclass and register an instance under ``refsuite.datasets``.

    ``name`` must equal the entry point's name. ``problem`` says what is missing (or None
    when :meth:`load` would work); ``load`` returns a :class:`LoadedDataset`. ``capabilities``
    says what the dataset has (see ``refsuite.DATASET_CAPABILITIES``): units needing one it
    lacks are skipped with the reason. The default is a CIFAR-10-like dataset: declare yours.
    """

    name: str = ""
    description: str = ""
    capabilities: frozenset = frozenset(DATASET_CAPABILITIES)

    def problem(self, root: Path | None, download: bool) -> str | None:
        return None

    def load(self, root: Path | None, download: bool) -> LoadedDataset:
        raise NotImplementedError


@dataclasses.dataclass
class DatasetSelection:
    """The dataset a run uses, checked up front and loaded at most once."""

    plugin: DatasetPlugin | None
    root: Path | None
    download: bool
    _loaded: LoadedDataset | None = None

    @property
    def name(self) -> str | None:
        return self.plugin.name if self.plugin is not None else None

    @property
    def capabilities(self) -> frozenset:
        return frozenset(self.plugin.capabilities) if self.plugin is not None else frozenset()

    @classmethod
    def from_options(
        cls, plugins: Mapping[str, DatasetPlugin], name: str | None, root: str | None, download: bool,
        broken: Mapping[str, str] | None = None,
    ) -> "DatasetSelection":
        """The dataset the options choose, checked; ``broken``: dataset plugins that failed to load
        (name -> error), named as such when asked for."""
        root = root or os.environ.get(DATA_ROOT_ENV) or None
        if name is None:
            name = DEFAULT_DATASET
            if name not in plugins:  # running without the built-in datasets (e.g. a broken install)
                return cls(None, None, False)
        if name not in plugins and name in (broken or {}):
            raise UsageError(f"dataset plugin {name!r} failed to load: {broken[name]} (`refsuite doctor` shows the "
                             f"traceback); available: {', '.join(sorted(plugins)) or 'none'}")
        if name not in plugins:
            raise UsageError(f"unknown dataset {name!r}: available: {', '.join(sorted(plugins)) or 'none'}")
        selection = cls(plugins[name], Path(root).expanduser() if root else None, download)
        problem = selection.plugin.problem(selection.root, download)
        if problem:
            raise UsageError(f"dataset {name!r} cannot be used: {problem}")
        if download:
            # asked for explicitly: fetch now, so a failed download stops the run before it starts
            try:
                selection.load()
            except DatasetError as exc:
                raise UsageError(f"dataset {name!r} cannot be used: {exc}") from None
        return selection

    def load(self) -> LoadedDataset:
        if self.plugin is None:
            raise DatasetError("no dataset plugin is installed")
        if self._loaded is None:
            loaded = self.plugin.load(self.root, self.download)
            # Checked once, here, so a dataset that breaks its contract fails with what is wrong
            # rather than somewhere inside a unit.
            problems = loaded.contract_problems(self.capabilities)
            if problems:
                raise DatasetError(f"dataset {self.name!r} breaks the dataset contract (see PLUGINS.md): " + "; ".join(problems))
            self._loaded = loaded
        return self._loaded
