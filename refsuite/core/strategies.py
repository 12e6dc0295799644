"""Device-aware hypothesis strategies for tensors, shapes, dtypes and memory layouts.

A kernel that assumes contiguous input passes every contiguous test, so tensors are drawn in a
memory layout as well as a shape and dtype: contiguous, transposed, sliced with a step, expanded
from a size-1 dimension (a zero stride), at a storage offset, or channels_last — the idea of
PyTorch's OpInfo tests, which run every sample non-contiguous too (``test_noncontiguous_samples``).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Iterable

import numpy as np
import torch
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .devices import Device

__all__ = ["FLOAT_DTYPES", "INT_DTYPES", "LAYOUTS", "Layout", "dtypes", "each_layout", "layouts", "shapes", "tensors"]

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


#: every memory layout :func:`tensors` draws
LAYOUTS = ("contiguous", "transposed", "sliced", "expanded", "offset", "channels_last")


@dataclasses.dataclass(frozen=True)
class Layout:
    """How a tensor's elements sit in memory. :meth:`apply` keeps shape, dtype and device, and keeps
    the values too, except ``expanded``, whose values repeat along ``dim`` (that is what a zero
    stride can hold)."""

    name: str
    #: transposed: the permutation; sliced and expanded: the dimension; offset: elements skipped
    arg: tuple | int | None = None

    def __repr__(self) -> str:
        return f"{self.name}({self.arg})" if self.arg is not None else self.name

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        if self.name == "transposed":
            perm = self.arg
            inverse = tuple(perm.index(i) for i in range(len(perm)))
            return x.permute(perm).contiguous().permute(inverse)
        if self.name == "sliced":
            wide = list(x.shape)
            wide[self.arg] *= 2
            step = [slice(None)] * x.dim()
            step[self.arg] = slice(None, None, 2)
            out = torch.zeros(wide, dtype=x.dtype, device=x.device)[tuple(step)]
            return out.copy_(x)
        if self.name == "expanded":
            return x.narrow(self.arg, 0, 1).expand(x.shape)
        if self.name == "offset":
            flat = torch.zeros(x.numel() + self.arg, dtype=x.dtype, device=x.device)
            return flat[self.arg:].view(x.shape).copy_(x)
        if self.name == "channels_last":
            return x.contiguous(memory_format=torch.channels_last)
        return x.contiguous()


def each_layout(x: torch.Tensor, names: Iterable[str] = LAYOUTS) -> list[tuple[Layout, torch.Tensor]]:
    """``x`` in every layout of ``names`` its shape can take, one fixed representative each.

    What hypothesis draws shifts with anything that changes its search (even number literals in
    the project's source), so a unit that must see every layout sweeps them with this as well as
    drawing them with :func:`tensors`.
    """
    shape, ndim = tuple(x.shape), x.dim()
    big = [d for d, size in enumerate(shape) if size > 1]
    picks = {
        "contiguous": Layout("contiguous"),
        "transposed": Layout("transposed", tuple(reversed(range(ndim)))) if len(big) >= 2 else None,
        "sliced": Layout("sliced", ndim - 1) if ndim >= 1 else None,
        "expanded": Layout("expanded", big[0]) if big else None,
        "offset": Layout("offset", 3),
        "channels_last": Layout("channels_last") if ndim == 4 and shape[1] > 1 and shape[2] * shape[3] > 1 else None,
    }
    return [(picks[n], picks[n].apply(x)) for n in names if picks[n] is not None]


def layouts(shape: tuple, names: Iterable[str] = LAYOUTS) -> st.SearchStrategy:
    """The layouts of ``names`` that a tensor of ``shape`` can take, with their parameters drawn.

    Contiguous comes last: hypothesis draws its first choices most often while it explores (and
    derandomized profiles explore little), so the layouts that find bugs are drawn first. A failure
    that only needs a contiguous tensor still ends there, since no other layout reproduces it.
    """
    ndim = len(shape)
    options = []
    names = list(names)
    for name in names:
        if name not in LAYOUTS:
            raise ValueError(f"layouts: unknown layout {name!r}; choose from {', '.join(LAYOUTS)}")
    for name in [n for n in names if n != "contiguous"] + [n for n in names if n == "contiguous"]:
        if name == "contiguous":
            options.append(st.just(Layout("contiguous")))
        elif name == "transposed" and ndim >= 2:
            perms = st.permutations(range(ndim)).map(tuple).filter(lambda p: p != tuple(range(ndim)))
            options.append(perms.map(lambda p: Layout("transposed", p)))
        elif name == "sliced" and ndim >= 1:
            options.append(st.integers(0, ndim - 1).map(lambda d: Layout("sliced", d)))
        elif name == "expanded" and any(size > 1 for size in shape):
            dims = [d for d, size in enumerate(shape) if size > 1]
            options.append(st.sampled_from(dims).map(lambda d: Layout("expanded", d)))
        elif name == "offset":
            options.append(st.integers(1, 7).map(lambda k: Layout("offset", k)))
        elif name == "channels_last" and ndim == 4:
            options.append(st.just(Layout("channels_last")))
    if not options:
        return st.just(Layout("contiguous"))
    return st.one_of(options)


def _floats(low: float, high: float, min_magnitude: float) -> st.SearchStrategy:
    """Finite float64s in [low, high] that are 0 or at least ``min_magnitude`` in magnitude."""
    finite = functools.partial(st.floats, allow_nan=False, allow_infinity=False, width=64)
    if min_magnitude <= 0:
        return finite(low, high)
    parts = [st.just(0.0)] if low <= 0 <= high else []
    if high >= min_magnitude:
        parts.append(finite(max(low, min_magnitude), high))
    if low <= -min_magnitude:
        parts.append(finite(low, min(high, -min_magnitude)))
    return st.one_of(parts)


def tensors(
    device: Device,
    *,
    shape: st.SearchStrategy | tuple = shapes(),
    dtype: torch.dtype = torch.float32,
    min_value: float = -1e3,
    max_value: float = 1e3,
    layout: Iterable[str] | None = LAYOUTS,
    min_magnitude: float = 0.0,
) -> st.SearchStrategy:
    """Finite tensors on ``device`` in a drawn memory layout, drawn as float64 on the CPU, then cast and moved.

    Drawing on the CPU keeps examples identical across devices, so a failing example found on an
    accelerator replays on the CPU reference. The layout (``layout``: which of :data:`LAYOUTS`
    may be drawn; ``None``: contiguous only) is applied on the device, and a failing example
    notes it, e.g. ``tensor of shape (2, 3) laid out transposed((1, 0)), strides (1, 3)``.
    ``min_magnitude``: every entry is 0 or at least this large in magnitude.
    """
    shape_st = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))
    elements = _floats(min_value, max_value, min_magnitude)
    names = tuple(layout) if layout is not None else ("contiguous",)

    def laid_out(s):
        return st.tuples(hnp.arrays(np.float64, s, elements=elements), layouts(s, names))

    def make(drawn):
        array, how = drawn
        x = how.apply(torch.from_numpy(array).to(dtype=dtype, device=device.torch))
        note(f"tensor of shape {tuple(x.shape)} laid out {how!r}, strides {x.stride()}, offset {x.storage_offset()}")
        return x

    return shape_st.flatmap(laid_out).map(make)
