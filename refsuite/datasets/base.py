"""The dataset plugin contract, and the session's chosen dataset."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..core.errors import DatasetError, UsageError

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


class DatasetPlugin:
    """Subclass and register an instance under ``refsuite.datasets``.

    ``name`` must equal the entry point's name. ``problem`` says what is missing (or None
    when :meth:`load` would work); ``load`` returns a :class:`LoadedDataset`.
    """

    name: str = ""
    description: str = ""

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

    @classmethod
    def from_options(
        cls, plugins: Mapping[str, DatasetPlugin], name: str | None, root: str | None, download: bool
    ) -> "DatasetSelection":
        root = root or os.environ.get(DATA_ROOT_ENV) or None
        if name is None:
            name = DEFAULT_DATASET
            if name not in plugins:  # running without the built-in datasets (e.g. a broken install)
                return cls(None, None, False)
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
            self._loaded = self.plugin.load(self.root, self.download)
        return self._loaded
