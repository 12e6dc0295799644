"""Numerics of the elementwise ops the tutorial uses (abs, sin, cos, asin, ceil, floor, clamp, add,
mul, pow): every floating dtype (and the integer dtypes for add, mul, abs and sum), extremal values
and every pair of them, sizes past kernels' tiles, and every form an op is called in, each against
a float64 numpy reference computed from the same rounded inputs (see numerics.py)."""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..core import strategies as rst
from ..core.extremal import INT_DTYPES, float_extremals, int_extremals, rounded
from ..core.registry import UnitGroup
from .numerics import (LARGE_1D, LARGE_2D, Checker, Finding, _np, _out, _uniform, binary_forms, reference,
                       unary_forms)

units = UnitGroup()

#: unary op -> (numpy reference, extra arguments, domain drawn for ordinary values)
UNARY = {
    "abs": (np.abs, (), (-100.0, 100.0)),
    "sin": (np.sin, (), (-10.0, 10.0)),
    "cos": (np.cos, (), (-10.0, 10.0)),
    "asin": (np.arcsin, (), (-1.0, 1.0)),
    "ceil": (np.ceil, (), (-100.0, 100.0)),
    "floor": (np.floor, (), (-100.0, 100.0)),
    "clamp": (lambda x: np.clip(x, -0.5, 0.5), (-0.5, 0.5), (-2.0, 2.0)),
}
#: binary op -> (numpy reference, domain of a, domain of b)
BINARY = {
    "add": (np.add, (-100.0, 100.0), (-100.0, 100.0)),
    "mul": (np.multiply, (-30.0, 30.0), (-30.0, 30.0)),
    "pow": (np.power, (0.25, 4.0), (-4.0, 4.0)),
}


def _elementwise(check: Checker, values: Callable[[tuple, float, float], torch.Tensor], shape, case: str,
                 dtypes: Iterable[torch.dtype]) -> None:
    """Every unary and binary op in each of ``dtypes`` on inputs of ``shape``."""
    dev = check.ctx.torch_device
    for dtype in dtypes:
        for name, (ref, args, (low, high)) in UNARY.items():
            x, x64 = rounded(values(shape, low, high), dtype, dev)
            check.forms(name, unary_forms(name, x, *args), reference(ref, _np(x64)), dtype=dtype, case=case)
        for name, (ref, (alow, ahigh), (blow, bhigh)) in BINARY.items():
            a, a64 = rounded(values(shape, alow, ahigh), dtype, dev)
            b, b64 = rounded(values(shape, blow, bhigh), dtype, dev)
            check.forms(name, binary_forms(name, a, b), reference(ref, _np(a64), _np(b64)), dtype=dtype, case=case)


@units.unit("tensors.elementwise.match_numpy_in_every_dtype", tags=("dtypes", "large", "variants"))
def elementwise_every_dtype(ctx):
    """abs, sin, cos, asin, ceil, floor, clamp, add, mul and pow match numpy in every dtype and form, past 16k elements."""
    check = Checker(ctx, "tensors.elementwise.match_numpy_in_every_dtype")
    seeds = iter(range(10**6))

    def fixed(shape, low, high):
        return _uniform(shape, low, high, next(seeds))

    with ctx.tiny_kernels():
        for shape in ((LARGE_1D,), LARGE_2D, (33,)):
            _elementwise(check, fixed, shape, f"shape {shape}", check.dtypes())

        # hypothesis draws values in [0, 1) (two arrays, for binary ops' operands), mapped onto each op's domain
        unit_arrays = st.tuples(*[hnp.arrays(np.float64, st.shared(rst.shapes(max_dims=3), key="shape"),
                                             elements=st.floats(0, 1, exclude_max=True))] * 2)

        @ctx.given(arrays=unit_arrays, dtype=st.sampled_from(check.dtypes()), max_examples=4)
        def drawn(arrays, dtype):
            which = iter(range(10**6))

            def scaled(shape, low, high):
                return torch.from_numpy(arrays[next(which) % 2]) * (high - low) + low

            _elementwise(check, scaled, arrays[0].shape, f"drawn shape {arrays[0].shape}", (dtype,))

        drawn()
    check.done()


def _pairs(names: list) -> tuple[list, list]:
    """Every ordered pair of ``names``: the first varies slowest."""
    return [a for a in names for _ in names], [b for _ in names for b in names]


#: where torch on the CPU disagrees with numpy on the table of pairs, each named "(a, b)"
ELEMENTWISE_FINDINGS = (
    Finding(("pow",), ("float64",), ("(max, 1)", "(-max, 1)"),
            "torch < 2.5 (seen on 2.4.1; 2.15 is right) on the CPU: float64 pow's vectorised kernel gives ±inf for "
            "(±finfo.max) ** 1, where numpy (and torch's own scalar loop over the elements past the last full "
            "vector) give ±max: x ** 1 overflows there from x = 1.79769e308, max·(1 − 1.7e-6), up; "
            "pow(1.7e308, 1.0) is right", until="2.5", devices=("cpu",)),
)


@units.unit("tensors.elementwise.propagate_extremal_values", tags=("dtypes", "extremal", "variants"))
def elementwise_extremal(ctx):
    """NaN, ±inf, −0.0, the largest finite, smallest normal and subnormal go through every elementwise op as numpy says."""
    check = Checker(ctx, "tensors.elementwise.propagate_extremal_values")
    dev = ctx.torch_device
    with ctx.tiny_kernels():
        for dtype in check.dtypes():
            table = float_extremals(dtype)
            names = list(table)
            # long enough for a vectorised kernel's main loop and its tail
            values = torch.tensor([table[n] for n in names] * 3, dtype=torch.float64)
            x, x64 = rounded(values, dtype, dev)
            case = f"extremal values {names} ×3"
            for name, (ref, args, _) in UNARY.items():
                check.forms(name, unary_forms(name, x, *args), reference(ref, _np(x64)), dtype=dtype, case=case,
                            equal_nan=True)
            left, right = _pairs(names)
            a, a64 = rounded(torch.tensor([table[n] for n in left], dtype=torch.float64), dtype, dev)
            b, b64 = rounded(torch.tensor([table[n] for n in right], dtype=torch.float64), dtype, dev)
            pairs = [f"({x}, {y})" for x, y in zip(left, right)]
            for name, (ref, _, _) in BINARY.items():
                keep = check.kept_rows(ELEMENTWISE_FINDINGS, name, dtype, pairs, rows_are="pairs")
                case = f"all pairs of {names}, a slowest"
                ka, kb, ka64, kb64 = a, b, a64, b64
                if len(keep) < len(pairs):
                    case += f", except {', '.join(p for i, p in enumerate(pairs) if i not in set(keep))}"
                    index = torch.tensor(keep)
                    ka, kb, ka64, kb64 = a[index.to(dev)], b[index.to(dev)], a64[index], b64[index]
                check.forms(name, binary_forms(name, ka, kb), reference(ref, _np(ka64), _np(kb64)), dtype=dtype,
                            case=case, equal_nan=True)
    check.done()


def _int_reference(name: str, *arrays: np.ndarray) -> torch.Tensor:
    if name == "sum":
        # torch sums integers into int64, and int64 wraps in numpy as in C
        return reference(lambda a: np.sum(a.astype(np.int64)), *arrays)
    return reference({"add": np.add, "mul": np.multiply, "abs": np.abs}[name], *arrays)


@units.unit("tensors.elementwise.integers_wrap_on_overflow", tags=("dtypes", "extremal", "large", "variants"))
def integers_wrap(ctx):
    """add, mul, abs and sum on uint8/int8/int16/int32/int64 wrap on overflow as numpy does, in every form and past 16k elements."""
    check = Checker(ctx, "tensors.elementwise.integers_wrap_on_overflow")
    dev = ctx.torch_device
    with ctx.tiny_kernels():
        for dtype in check.dtypes(INT_DTYPES):
            table = int_extremals(dtype)
            names = list(table)
            left, right = _pairs(names)
            info = torch.iinfo(dtype)
            gen = torch.Generator().manual_seed(0)
            big_a, big_b = (torch.randint(info.min, info.max, (LARGE_1D,), generator=gen, dtype=dtype) for _ in "ab")
            cases = {
                f"all pairs of {names}, a slowest": (torch.tensor([table[n] for n in left], dtype=dtype),
                                                      torch.tensor([table[n] for n in right], dtype=dtype)),
                f"{LARGE_1D} elements drawn over the whole range": (big_a, big_b),
            }
            for case, (a_cpu, b_cpu) in cases.items():
                a, b = a_cpu.to(dev), b_cpu.to(dev)
                for name in ("add", "mul"):
                    check.forms(name, binary_forms(name, a, b), _int_reference(name, _np(a_cpu), _np(b_cpu)),
                                dtype=dtype, case=case)
                check.forms("abs", unary_forms("abs", a), _int_reference("abs", _np(a_cpu)), dtype=dtype, case=case)
                sums = [("torch.sum(a)", lambda: torch.sum(a)), ("a.sum()", lambda: a.sum()),
                        ("torch.sum(a, 0, out=)", lambda: _out(torch.sum, a, 0, like=torch.sum(a)))]
                check.forms("sum", sums, _int_reference("sum", _np(a_cpu)), dtype=dtype, case=case,
                            result_dtype=torch.int64)
    check.done()
