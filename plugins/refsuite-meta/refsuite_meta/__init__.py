"""The meta device as a refsuite device: shape-only execution.

Tensors on ``meta`` have shapes, dtypes and strides but no storage, so the device lacks
the ``values`` capability: units that read values are visible skips with that reason, and
shape-only units (declared with ``refsuite.SHAPES_ONLY``) run.
"""
from __future__ import annotations

import torch

from refsuite import ALL_DTYPES, Device, DeviceType


class MetaDeviceType(DeviceType):
    def device_count(self) -> int:
        return 1  # every torch build has the meta device

    def devices(self) -> list[Device]:
        return [Device(self, None)]

    def synchronize(self, device: torch.device) -> None:
        pass  # nothing is ever queued

    def synchronize_problem(self) -> str | None:
        return None


META = MetaDeviceType(
    "meta", dtypes=ALL_DTYPES, capabilities=frozenset(), description="shapes only: no values, no float64 arithmetic"
)
