"""The meta device as a refsuite device: shape-only execution.

Tensors on ``meta`` have shapes, dtypes and strides but no storage, so the device lacks
the ``values`` capability: units that read values are visible skips with that reason, and
shape-only units (declared with ``refsuite.SHAPES_ONLY``) run. Like the CPU it has one device,
always there, and nothing to wait for: refsuite's SingleDeviceType, as the CPU's type is.
"""
from __future__ import annotations

from refsuite import ALL_DTYPES, SingleDeviceType

META = SingleDeviceType(
    "meta", dtypes=ALL_DTYPES, capabilities=frozenset(), description="shapes only: no values, no float64 arithmetic"
)
