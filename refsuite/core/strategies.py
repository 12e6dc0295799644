"""Device-aware hypothesis strategies for tensors, shapes and dtypes."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .devices import Device

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def shapes(*, min_dims: int = 1, max_dims: int = 4, min_side: int = 1, max_side: int = 6) -> st.SearchStrategy:
    """Tensor shapes as tuples of ints."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def dtypes(device: Device, kinds: Iterable[str] = ("float", "int", "bool")) -> st.SearchStrategy:
    """Dtypes of the given kinds that ``device`` supports, in a stable order."""
    kinds = set(kinds)
    unknown = kinds - {"float", "int", "bool"}
    if unknown:
        raise ValueError(f"kinds={sorted(unknown)!r}: choose from 'float', 'int', 'bool'")
    pool = [d for d in FLOAT_DTYPES if "float" in kinds] + [d for d in INT_DTYPES if "int" in kinds]
    pool += [torch.bool] if "bool" in kinds else []
    supported = [d for d in pool if device.supports(d)]
    if not supported:
        raise ValueError(f"device {device.label} supports none of kinds={sorted(kinds)!r}")
    return st.sampled_from(supported)


def tensors(
    device: Device,
    *,
    shape: st.SearchStrategy | tuple = shapes(),
    dtype: torch.dtype = torch.float32,
    min_value: float = -1e3,
    max_value: float = 1e3,
) -> st.SearchStrategy:
    """Finite tensors on ``device``, drawn as float64 on the CPU and then cast and moved.

    Drawing on the CPU keeps examples identical across devices, so a failing example
    found on an accelerator replays on the CPU reference.
    """
    shape_st = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))
    elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, width=64)
    arrays = shape_st.flatmap(lambda s: hnp.arrays(np.float64, s, elements=elements))
    return arrays.map(lambda a: torch.from_numpy(a).to(dtype=dtype, device=device.torch))
