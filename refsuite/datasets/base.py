"""The dataset plugin contract, and the session's chosen dataset.

Note [Adding a dataset]
~~~~~~~~~~~~~~~~~~~~~~~
1. Subclass :class:`DatasetPlugin` (the contract lives in :mod:`refsuite.core.dataset_contract`,
   re-exported here and as ``refsuite.DatasetPlugin``) and make one module-level instance.
2. Set ``name`` (the entry point's name), ``description`` (one line for ``refsuite doctor``) and
   ``capabilities``: a frozenset of :data:`DATASET_CAPABILITIES` names the data really has.
3. ``problem(root, download)``: None when ``load`` would work, else what is missing and what to do.
   Keep it cheap: it runs before any unit, so a bad ``--dataset`` runs nothing.
4. ``load(root, download)``: a :class:`LoadedDataset`; ``train``/``test`` expose uint8 ``data``
   and ``targets`` (see its docstring). Never read data at import: every run imports the plugin.
5. Register it in your pyproject::

       [project.entry-points."refsuite.datasets"]
       digits = "refsuite_digits.dataset:DIGITS"

6. Test it with ``refsuite.testing.check_dataset(DIGITS)`` (the contract and the declared
   capabilities, on loaded data) and ``unit.select_dataset(DIGITS)`` to run units on it.
Discovery checks step 2 and the methods' signatures without loading data: a plugin that breaks
them is a failing provider (``refsuite doctor`` names it), not an error at first use.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Mapping

from ..core.dataset_contract import DATASET_CAPABILITIES, DatasetPlugin, LoadedDataset
from ..core.errors import DatasetError, UsageError

__all__ = ["DATASET_CAPABILITIES", "DATA_ROOT_ENV", "DEFAULT_DATASET", "DatasetPlugin", "DatasetSelection",
           "LoadedDataset"]

DEFAULT_DATASET = "synthetic-cifar10"
DATA_ROOT_ENV = "REFSUITE_DATA_ROOT"


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
