"""Dataset plugins: the ``refsuite.datasets`` entry-point group and its built-ins."""
from .base import DatasetPlugin, DatasetSelection, LoadedDataset

__all__ = ["DatasetPlugin", "DatasetSelection", "LoadedDataset"]
