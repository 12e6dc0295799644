"""Numerics past the tutorial's printed examples, for the elementwise ops, reductions, activations and
loss it uses: every floating dtype (and the integer dtypes where an op defines them), extremal values,
sizes past kernels' tiles in every run, and every form an op is called in (function, method,
in-place, ``out=``, module), each compared on its own with a float64 numpy reference computed from
the same rounded inputs.

PyTorch's own anchors: test/test_unary_ufuncs.py and test/test_binary_ufuncs.py
(``test_reference_numerics_small/large/extremal``), test/test_ops.py (``test_variant_consistency_eager``,
``test_out``). A fault hidden in one dtype, one size or one form is caught because every unit runs the
cross product of dtypes × cases × forms; forms whose result is bit-identical to one already compared
share its verdict and are not compared again, which keeps that cheap.
"""
from __future__ import annotations

import dataclasses
import operator
import warnings
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..core import strategies as rst
from ..core.extremal import INT_DTYPES, dtypes_on, float_extremals, int_extremals, rounded, short
from ..core.registry import UnitGroup
from ..core.torch_version import torch_at_least

units = UnitGroup()

#: elements of the large 1-D case: odd, just past 2**14, so a vectorised kernel has a tail
LARGE_1D = 16411
#: the large 2-D case: each side just past 128, 16,899 elements in all
LARGE_2D = (129, 131)
ALL_TAGS = ("dtypes", "extremal", "large", "variants")



@dataclasses.dataclass(frozen=True)
class Finding:
    """Where unpatched torch disagrees with the reference: those rows of the extremal table (or those
    forms of the op) are left out of the comparison for those ops and dtypes (never loosened), and
    every run names them."""

    ops: tuple
    dtypes: tuple
    #: row descriptions, as the unit's extremal table names them
    rows: tuple
    why: str
    #: only when reducing the whole tensor (its kernels differ from those along a dim)
    whole_only: bool = False
    #: only along a dim that is not the last (a kernel of its own, vectorised across the other dims)
    inner_dim_only: bool = False
    #: the forms whose name contains this are left out in every case (``rows`` is then empty)
    form: str = ""
    #: releases from this one on are compared in full. Where only 2.4.1 (oldest supported) and 2.15 were
    #: run, it is "2.5", bounding what was seen rather than naming the release that fixed it
    until: str | None = None
    #: the device types that show it (empty: every device)
    devices: tuple = ()

    def __post_init__(self) -> None:
        if bool(self.form) == bool(self.rows):
            raise ValueError(f"a finding names rows or a form, not both or neither: rows={self.rows!r}, "
                             f"form={self.form!r}")

    def applies(self, op: str, dtype: torch.dtype, device: torch.device) -> bool:
        return (op in self.ops and short(dtype) in self.dtypes
                and (not self.devices or device.type in self.devices)
                and (self.until is None or not torch_at_least(self.until)))


Form = tuple[str, Callable[[], torch.Tensor]]


class NotChecked(UserWarning):
    """Cases a unit could not compare here: a dtype the device lacks, or a documented finding."""


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def reference(fn: Callable, *arrays) -> torch.Tensor:
    """``fn`` of float64 (or integer) numpy arrays, as a CPU tensor; IEEE's NaN and inf results are
    the point here, so numpy's warnings about them are silenced."""
    with np.errstate(all="ignore"):
        return torch.from_numpy(np.array(fn(*arrays)))


def _bits(t: torch.Tensor) -> torch.Tensor:
    views = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
    return t.view(views[t.element_size()]) if t.is_floating_point() else t


def _identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.device == b.device and torch.equal(_bits(a), _bits(b))


class Checker:
    """Runs forms of one op and compares each with a reference, naming op, form, dtype and case."""

    def __init__(self, ctx, unit: str, findings: Iterable[Finding] = ()) -> None:
        self.ctx = ctx
        self.unit = unit
        #: the findings that leave whole forms out, wherever the unit compares their op
        self.form_findings = [f for f in findings if f.form]
        #: (what, dtype, why) of each case left out
        self.excluded: list[tuple[str, str, str]] = []
        self._memo: dict = {}

    def reference(self, key, fn: Callable, *arrays: np.ndarray) -> torch.Tensor:
        """:func:`reference`, reused while the inputs are bit for bit those of the last call with ``key``
        (grid-valued inputs round to the same values in every dtype, and a large matmul is not free)."""
        hit = self._memo.get(key)
        if hit is not None and len(hit[0]) == len(arrays) and all(
                a.dtype == b.dtype and a.tobytes() == b.tobytes() for a, b in zip(hit[0], arrays)):
            return hit[1]
        result = reference(fn, *arrays)
        self._memo[key] = (arrays, result)
        return result

    def forms(self, op: str, forms: Iterable[Form], want: torch.Tensor, *, dtype: torch.dtype, case: str,
              equal_nan: bool = False, result_dtype: torch.dtype | None = None) -> None:
        """Each form's result has ``result_dtype`` (default ``dtype``) and equals ``want`` within the
        dtype's tolerances. A form bit-identical to the last one compared has its verdict already."""
        result_dtype = result_dtype or dtype
        last = None
        for finding in self.form_findings:
            if finding.applies(op, dtype, self.ctx.torch_device):
                left_out = [form for form, _ in forms if finding.form in form]
                if left_out:
                    self.excluded.append((f"{op} with {finding.form}", short(dtype),
                                          f"a documented finding: {finding.why}"))
                    forms = [(form, run) for form, run in forms if form not in left_out]
        for form, run in forms:
            got = run()
            where = f"{form}; {short(dtype)}; {case}"
            assert got.dtype == result_dtype, f"{op} ({where}) returned {got.dtype}, not {result_dtype}"
            if last is not None and _identical(got, last):
                continue
            self.ctx.assert_close(got, want, what=op, where=where, equal_nan=equal_nan)
            last = got

    def kept_rows(self, findings: Iterable[Finding], op: str, dtype: torch.dtype, said: list[str],
                  whole: bool = False, inner_dim: bool = False, rows_are: str = "rows") -> list[int]:
        """Indices of the rows of a table described by ``said`` that no finding excludes for ``op``
        in ``dtype`` (``whole``: reducing each row as a whole tensor; ``inner_dim``: along a dim
        that is not the last); the excluded ones are named, as ``rows_are``, when the unit is done."""
        dropped = {}
        for finding in findings:
            # checked on every release: a misspelt row would go unseen until a release the finding covers
            unknown = [row for row in finding.rows if row not in said]
            if unknown:
                raise ValueError(f"a finding for {finding.ops} names rows the table lacks: {unknown}; it has {said}")
            if (finding.rows and finding.applies(op, dtype, self.ctx.torch_device)
                    and (whole or not finding.whole_only) and (inner_dim or not finding.inner_dim_only)):
                for row in finding.rows:
                    dropped.setdefault(row, finding.why)
        for why in dict.fromkeys(dropped.values()):
            rows = [r for r in said if dropped.get(r) == why]
            if rows:
                self.excluded.append((f"{op} on {rows_are} {rows}", short(dtype), f"a documented finding: {why}"))
        return [i for i, row in enumerate(said) if row not in dropped]

    def dtypes(self, dtypes=None) -> list[torch.dtype]:
        """The floating dtypes (or ``dtypes``) the device supports; the ones it lacks are named once."""
        have, lacking = dtypes_on(self.ctx.device, *(() if dtypes is None else (dtypes,)))
        if lacking:
            self.excluded.append(("every op", ", ".join(map(short, lacking)), f"device {self.ctx.device.label} lacks it"))
        return have

    def done(self) -> None:
        if self.excluded:
            grouped: dict = {}
            for what, dtype, why in self.excluded:
                grouped.setdefault((what, why), dict.fromkeys([]))[dtype] = None
            said = [f"{what} in {', '.join(dtypes)} ({why})" for (what, why), dtypes in grouped.items()]
            warnings.warn(NotChecked(f"{self.unit} did not check: " + "; ".join(said)), stacklevel=2)


def _uniform(shape, low: float, high: float, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen, dtype=torch.float64) * (high - low) + low


def _out(fn: Callable, *args, like: torch.Tensor, **kwargs) -> torch.Tensor:
    out = torch.empty_like(like)
    fn(*args, out=out, **kwargs)
    return out


def unary_forms(name: str, x: torch.Tensor, *args) -> list[Form]:
    """torch.op(x), x.op(), x.op_() on a copy, torch.op(x, out=)."""
    fn, shown = getattr(torch, name), "".join(f", {a}" for a in args)
    return [
        (f"torch.{name}(x{shown})", lambda: fn(x, *args)),
        (f"x.{name}({shown[2:]})", lambda: getattr(x, name)(*args)),
        (f"x.{name}_({shown[2:]})", lambda: getattr(x.clone(), name + "_")(*args)),
        (f"torch.{name}(x{shown}, out=)", lambda: _out(fn, x, *args, like=x)),
    ]


BINARY_SYMBOL = {"add": ("+", operator.add), "mul": ("*", operator.mul), "pow": ("**", operator.pow)}


def binary_forms(name: str, a: torch.Tensor, b: torch.Tensor) -> list[Form]:
    """torch.op(a, b), the operator, a.op(b), a.op_(b) on a copy, torch.op(a, b, out=)."""
    fn, (symbol, apply) = getattr(torch, name), BINARY_SYMBOL[name]
    return [
        (f"torch.{name}(a, b)", lambda: fn(a, b)),
        (f"a {symbol} b", lambda: apply(a, b)),
        (f"a.{name}(b)", lambda: getattr(a, name)(b)),
        (f"a.{name}_(b)", lambda: getattr(a.clone(), name + "_")(b)),
        (f"torch.{name}(a, b, out=)", lambda: _out(fn, a, b, like=a)),
    ]


# --- elementwise --------------------------------------------------------------------------

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


# --- reductions ---------------------------------------------------------------------------

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


def _extremal_rows(dtype: torch.dtype, width: int = 9) -> tuple[torch.Tensor, list[str]]:
    """Rows of ordinary values with one extremal value at the first, middle or last place, and rows
    made only of extremal values; float64, with a description of each row."""
    table = float_extremals(dtype)
    base = [1.0, -1.0, 0.5, 2.0, -0.5, 0.25, 1.5, -2.0, 0.75][:width]
    rows, said = [], []
    for name, value in table.items():
        for place in (0, width // 2, width - 1):
            row = list(base)
            row[place] = value
            rows.append(row)
            said.append(f"{name} at {place}")
    for name, row in {"all nan": ["nan"] * width, "all -inf": ["-inf"] * width, "all inf": ["inf"] * width,
                      "all max": ["max"] * width, "all -max": ["-max"] * width,
                      "inf and -inf": ["inf", "-inf"] * (width // 2) + ["1"],
                      "nan and inf": ["inf"] * (width - 1) + ["nan"], "subnormals": ["subnormal", "-subnormal", "tiny"] * (width // 3)}.items():
        rows.append([table[v] for v in row] + [1.0] * (width - len(row)))
        said.append(name)
    return torch.tensor(rows, dtype=torch.float64), said


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
