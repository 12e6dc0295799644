"""The dataset plugin contract: what a dataset declares, what its ``load`` returns, and what
discovery checks of it before anything is loaded.

It lives in core because the registry (a unit's ``Requires``) and discovery need it, and core
imports nothing built on it; :mod:`refsuite.datasets.base` re-exports it beside the datasets.
"""
from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Sequence

#: What a dataset can declare it has (``DatasetPlugin.capabilities``) and units can need
#: (``Requires.dataset_capabilities``), with what each means. A unit needing one the selected
#: dataset lacks is a visible skip naming the dataset and the capability.
DATASET_CAPABILITIES = {
    "learnable": "labels a model can learn from the images, not random ones",
    "colour": "three colour channels (RGB)",
    "32x32": "32×32 images, the size the tutorial's nets take",
    "ten_classes": "ten classes, labels 0 to 9, one per output of the tutorial's nets",
}


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
        problems = []
        if self.channels not in (1, 3):
            problems.append(f"channels is {self.channels}, not 1 (greyscale) or 3 (colour)")
        for what in ("mean", "std"):
            if len(getattr(self, what)) != self.channels:
                problems.append(f"{what} has {len(getattr(self, what))} values for {self.channels} channel(s)")
        for split in ("train", "test"):
            problems += self._split_problems(split, capabilities)
        if "colour" in capabilities and self.channels != 3:
            problems.append(f"declares colour but has {self.channels} channel(s)")
        if "ten_classes" in capabilities and len(self.classes) != 10:
            problems.append(f"declares ten_classes but has {len(self.classes)} classes")
        return problems

    def _split_problems(self, split: str, capabilities: frozenset) -> list[str]:
        import numpy as np

        ds = getattr(self, split)
        data, targets = getattr(ds, "data", None), getattr(ds, "targets", None)
        if data is None or targets is None:
            return [f"{split} has no `data` and `targets` (the decoded arrays)"]
        data, targets = np.asarray(data), np.asarray(targets)
        ndim = 4 if self.channels == 3 else 3
        if data.dtype != np.uint8 or data.ndim != ndim or (ndim == 4 and data.shape[3] != self.channels):
            return [f"{split}.data is {data.dtype} {data.shape}, not uint8 N×H×W" + ("×3" if self.channels == 3 else "")]
        problems = []
        if len(targets) != len(data) or len(data) == 0:
            problems.append(f"{split} has {len(data)} images and {len(targets)} targets")
        elif targets.min() < 0 or targets.max() >= len(self.classes):
            problems.append(f"{split}.targets run from {targets.min()} to {targets.max()}, outside 0..{len(self.classes) - 1}")
        if "32x32" in capabilities and data.shape[1:3] != (32, 32):
            problems.append(f"declares 32x32 but {split} images are {data.shape[1]}×{data.shape[2]}")
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


def plugin_problems(plugin: Any) -> list[str]:
    """What in a dataset plugin object breaks the contract, found without loading any data: its
    attributes' types, its declared capabilities, and that ``load`` and ``problem`` take
    ``(root, download)``. Run at discovery, so a plugin that cannot work fails there."""
    problems = []
    for attr in ("name", "description"):
        if not hasattr(plugin, attr):
            problems.append(f"has no `{attr}` (a string)")
        elif not isinstance(getattr(plugin, attr), str):
            problems.append(f"`{attr}` is {getattr(plugin, attr)!r}, not a string")
    problems += capability_problems(getattr(plugin, "capabilities", None))
    for method in ("problem", "load"):
        problems += _method_problems(plugin, method)
    if isinstance(plugin, DatasetPlugin) and type(plugin).load is DatasetPlugin.load:
        problems.append("`load` is DatasetPlugin's own, which loads nothing: override it")
    return problems


def capability_problems(capabilities: Any) -> list[str]:
    """What is wrong with a dataset's declared ``capabilities`` (a collection of known names)."""
    if isinstance(capabilities, (str, bytes)) or not isinstance(capabilities, Iterable):
        return [f"`capabilities` is {capabilities!r}, not a set of names from {sorted(DATASET_CAPABILITIES)}"]
    unknown = sorted(set(capabilities) - set(DATASET_CAPABILITIES), key=str)
    if unknown:
        return [f"declares unknown capabilities {unknown}; known: {sorted(DATASET_CAPABILITIES)}"]
    return []


def _method_problems(plugin: Any, method: str) -> list[str]:
    func = getattr(plugin, method, None)
    if not callable(func):
        return [f"has no `{method}(root, download)` method"]
    try:
        inspect.signature(func).bind(None, False)
    except TypeError:
        return [f"`{method}` does not take (root, download): its signature is {inspect.signature(func)}"]
    except ValueError:  # no signature to read (a builtin): nothing certain to say
        pass
    return []
