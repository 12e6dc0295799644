"""Numerics of the reductions the tutorial uses (max and argmax, sum, mean, std, std_mean): every
floating dtype, along every dim and over the whole tensor, sizes past kernels' tiles, rows with NaN,
±inf, the largest finite and subnormals at the first, middle and last place, and every form, each
against a float64 (or extended-precision) numpy reference computed from the same rounded inputs
(see numerics.py)."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..core import strategies as rst
from ..core.extremal import rounded
from ..core.registry import UnitGroup
from .numerics import (LARGE_1D, LARGE_2D, Checker, Finding, Form, _extremal_rows, _np, _out, _uniform,
                       reference)

units = UnitGroup()

#: reduction -> numpy reference over an axis (None: all of it)
#: (in extended precision where the platform has it: float64 values near finfo.max overflow a
#: float64 sum, where the true mean and std are finite)
def _wide(x: np.ndarray) -> np.ndarray:
    # only the extremal tables come near float64's limits; longdouble is slow, so they alone pay for it
    return x.astype(np.longdouble) if x.size and np.nanmax(np.abs(x), initial=0.0) > 1e300 else x


REDUCTIONS = {
    "max": lambda x, axis: np.max(x, axis=axis),
    "sum": lambda x, axis: np.sum(_wide(x), axis=axis).astype(np.float64),
    "mean": lambda x, axis: np.mean(_wide(x), axis=axis).astype(np.float64),
    "std": lambda x, axis: np.std(_wide(x), axis=axis, ddof=1).astype(np.float64),
}


def _at(x: torch.Tensor, index: torch.Tensor, dim: int | None) -> torch.Tensor:
    """The elements an argmax-like index points at: what must equal the maximum (NaN where it is NaN)."""
    size = x.numel() if dim is None else x.shape[dim]
    assert index.dtype == torch.int64, f"indices are {index.dtype}, not int64"
    assert bool(((index >= 0) & (index < size)).all()), f"indices outside 0..{size - 1}: {index.cpu()}"
    return x.flatten()[index] if dim is None else x.gather(dim, index.unsqueeze(dim)).squeeze(dim)


def reduction_forms(op: str, x: torch.Tensor, dim: int | None) -> list[Form]:
    """Every form of ``op`` over ``dim`` (None: the whole tensor). ``argmax`` and ``max.indices``
    give the elements their indices point at."""
    if dim is None:
        if op == "argmax":
            return [("torch.argmax(x)", lambda: _at(x, torch.argmax(x), None)),
                    ("x.argmax()", lambda: _at(x, x.argmax(), None))]
        if op.startswith("std_mean"):
            part = 0 if op == "std_mean.std" else 1
            return [(f"torch.std_mean(x)[{part}]", lambda: torch.std_mean(x)[part])]
        return [(f"torch.{op}(x)", lambda: getattr(torch, op)(x)), (f"x.{op}()", lambda: getattr(x, op)())]
    d = dim
    if op == "max.indices":
        def out_form():
            values, indices = torch.empty(0, dtype=x.dtype, device=x.device), torch.empty(0, dtype=torch.long, device=x.device)
            torch.max(x, d, out=(values, indices))
            return _at(x, indices, d)

        return [(f"torch.max(x, {d}).indices", lambda: _at(x, torch.max(x, d).indices, d)),
                (f"x.max({d}).indices", lambda: _at(x, x.max(d).indices, d)),
                (f"torch.max(x, {d}, out=(v, i))[1]", out_form)]
    if op == "argmax":
        return [(f"torch.argmax(x, {d})", lambda: _at(x, torch.argmax(x, d), d)),
                (f"x.argmax({d})", lambda: _at(x, x.argmax(d), d)),
                (f"torch.argmax(x, {d}, out=)", lambda: _at(x, _out(torch.argmax, x, d, like=torch.argmax(x, d)), d))]
    if op.startswith("std_mean"):
        part = 0 if op == "std_mean.std" else 1
        return [(f"torch.std_mean(x, {d})[{part}]", lambda: torch.std_mean(x, d)[part])]
    fn = getattr(torch, op)
    if op == "max":
        def max_out():
            values, indices = torch.empty(0, dtype=x.dtype, device=x.device), torch.empty(0, dtype=torch.long, device=x.device)
            torch.max(x, d, out=(values, indices))
            return values

        return [(f"torch.max(x, {d}).values", lambda: torch.max(x, d).values),
                (f"x.max({d}).values", lambda: x.max(d).values),
                (f"torch.max(x, {d}, keepdim=True).values", lambda: torch.max(x, d, keepdim=True).values.squeeze(d)),
                (f"torch.max(x, {d}, out=(v, i))[0]", max_out)]
    return [(f"torch.{op}(x, {d})", lambda: fn(x, d)),
            (f"x.{op}({d})", lambda: getattr(x, op)(d)),
            (f"torch.{op}(x, {d}, keepdim=True)", lambda: fn(x, d, keepdim=True).squeeze(d)),
            (f"torch.{op}(x, {d}, out=)", lambda: _out(fn, x, d, like=fn(x, d)))]


#: op -> which numpy reference its forms are compared with
_REFERENCE_OF = {"max": "max", "max.indices": "max", "argmax": "max", "sum": "sum", "mean": "mean", "std": "std",
                 "std_mean.std": "std", "std_mean.mean": "mean"}


def _reductions(check: Checker, x: torch.Tensor, x64: torch.Tensor, dtype: torch.dtype, case: str,
                dims: Iterable[int | None] | None = None, ops: Iterable[str] = tuple(_REFERENCE_OF),
                equal_nan: bool = False) -> None:
    """Every reduction (or ``ops``) over the whole tensor and along each dimension, in every form."""
    dims = [None, *range(x.dim())] if dims is None else dims
    for dim in dims:
        for op in ops:
            ref = _REFERENCE_OF[op]
            if dim is None and op == "max.indices":
                continue
            want = reference(REDUCTIONS[ref], _np(x64), dim)
            over = "all elements" if dim is None else f"dim {dim}"
            check.forms(op, reduction_forms(op, x, dim), want, dtype=dtype, case=f"{case}, over {over}",
                        equal_nan=equal_nan)


@units.unit("tensors.reductions.match_numpy_in_every_dtype", tags=("dtypes", "large", "variants"))
def reductions_every_dtype(ctx):
    """max/argmax, sum, mean, std and std_mean match numpy in every dtype and form, along every dim, past 16k elements."""
    check = Checker(ctx, "tensors.reductions.match_numpy_in_every_dtype", REDUCTION_FINDINGS)
    dev = ctx.torch_device
    # positive values: sums without cancellation, so the reference's float64 and a kernel's
    # float32 accumulator may differ only by rounding, which the dtype's tolerance allows
    with ctx.tiny_kernels():
        for dtype in check.dtypes():
            for seed, shape in enumerate(((LARGE_1D,), LARGE_2D)):
                x, x64 = rounded(_uniform(shape, 0.5, 2.0, seed), dtype, dev)
                _reductions(check, x, x64, dtype, f"shape {shape}")

        @ctx.given(x=hnp.arrays(np.float64, rst.shapes(max_dims=3, min_side=2), elements=st.floats(0.5, 2.0)),
                   dtype=st.sampled_from(check.dtypes()), max_examples=4)
        def drawn(x, dtype):
            _reductions(check, *rounded(torch.from_numpy(x), dtype, dev), dtype, f"drawn shape {x.shape}")

        drawn()
    check.done()


def _each_row_whole(check: Checker, op: str, x: torch.Tensor, x64: torch.Tensor, rows: list[int], said: list[str],
                    dtype: torch.dtype) -> None:
    """``op`` of each of ``rows`` as a whole tensor, in every form; one comparison per form for all of them."""
    per_row = [reduction_forms(op, x[i], None) for i in rows]
    stacked = [(name, lambda j=j: torch.stack([forms[j][1]() for forms in per_row]))
               for j, (name, _) in enumerate(per_row[0])]
    want = torch.stack([reference(REDUCTIONS[_REFERENCE_OF[op]], _np(x64[i]), None) for i in rows])
    check.forms(op, stacked, want, dtype=dtype, equal_nan=True,
                case="rows as whole tensors (" + "; ".join(f"{n}: {said[i]}" for n, i in enumerate(rows)) + ")")


_EVERY_FLOAT = ("float16", "bfloat16", "float32", "float64")
#: torch 2.15 on the CPU, against the extended-precision reference, and what older releases add
REDUCTION_FINDINGS = (
    Finding(("mean",), ("float16", "bfloat16"), (), form="out=", until="2.5", devices=("cpu",),
            why="torch < 2.5 (seen on 2.4.1; 2.15 is right) on the CPU: float16/bfloat16 torch.mean(x, dim, out=t) "
                "never writes t: it keeps what t held before (t = torch.full((131,), 7.0) stays 7.0 after "
                "torch.mean(x, 0, out=t) of a (129, 131) x whose means are about 1.26), along any dim or all of "
                "them, at any size; the forms without out= are right"),
    Finding(("std_mean.mean",), _EVERY_FLOAT, ("inf at 0", "inf at 4", "-inf at 0", "-inf at 4", "all inf", "all -inf"),
            "torch.std_mean's mean is NaN where ±inf comes before a row's last place, though torch.mean gives ±inf: "
            "its Welford update takes x − mean = inf − inf once the running mean is infinite"),
    Finding(("mean", "std_mean.mean"), ("bfloat16", "float32", "float64"), ("all max", "all -max"),
            "torch.mean of values all near ±finfo.max is ±inf, not ±max: it sums in a float32 (bfloat16, float32) "
            "or float64 accumulator, which overflows before the division"),
    Finding(("std", "std_mean.std"), ("float64",), tuple(f"{s}max at {p}" for s in ("", "-") for p in (0, 4, 8)),
            "torch.std in float64 is inf where one value is ±finfo.max among ordinary ones (the true std is 6e307): "
            "the squared deviation overflows float64"),
    Finding(("std",), ("float32", "float64"), ("all max", "all -max"),
            "torch.std over a whole tensor of values all near ±finfo.max is inf (along a dim it is 0, as is "
            "std_mean's): that path sums the values first, and the sum overflows", whole_only=True),
)


@units.unit("tensors.reductions.propagate_nan_and_inf", tags=("dtypes", "extremal", "large", "variants"))
def reductions_extremal(ctx):
    """A NaN makes max, sum, mean and std NaN (argmax points at it); ±inf, the largest finite and subnormals reduce as numpy says."""
    check = Checker(ctx, "tensors.reductions.propagate_nan_and_inf", REDUCTION_FINDINGS)
    dev = ctx.torch_device
    with ctx.tiny_kernels():
        for dtype in check.dtypes():
            rows, said = _extremal_rows(dtype)
            x, x64 = rounded(rows, dtype, dev)
            for op in _REFERENCE_OF:
                keep = check.kept_rows(REDUCTION_FINDINGS, op, dtype, said)
                kx, kx64 = x[keep], x64[keep]
                case = f"rows with extremal values ({'; '.join(f'row {i}: {said[k]}' for i, k in enumerate(keep))})"
                _reductions(check, kx, kx64, dtype, case, dims=(1,), ops=(op,), equal_nan=True)
                _reductions(check, kx.T.contiguous(), kx64.T, dtype, "the same rows as columns", dims=(0,), ops=(op,),
                            equal_nan=True)
                # whole-tensor reductions take other kernels than reductions along a dim
                if op == "max.indices":
                    continue
                whole = check.kept_rows(REDUCTION_FINDINGS, op, dtype, said, whole=True)
                _each_row_whole(check, op, x, x64, [k for k in whole if not said[k].endswith((" at 0", " at 8"))],
                                said, dtype)
            # a NaN in a large tensor's vectorised tail, and at its start
            for shape, where in (((LARGE_1D,), ((LARGE_1D - 11,),)), (LARGE_2D, ((128, 130), (0, 0)))):
                values = _uniform(shape, 0.5, 2.0, 7)
                for at in where:
                    values[at] = float("nan")
                _reductions(check, *rounded(values, dtype, dev), dtype, f"shape {shape} with nan at {where}",
                            equal_nan=True)
    check.done()
