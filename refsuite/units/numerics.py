"""What the numerics units share: a :class:`Checker` that runs every form an op is called in
(function, method, in-place, ``out=``, module) and compares each on its own with a float64 numpy
reference computed from the same rounded inputs, naming op, form, dtype and case; the
:class:`Finding` records of where unpatched torch disagrees with the reference; and the sizes and
tables of extremal values the units run on. The units are in elementwise_numerics.py,
reductions_numerics.py, activations_numerics.py and layers_numerics.py.

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

from ..core.extremal import dtypes_on, float_extremals, short
from ..core.torch_version import torch_at_least

#: elements of the large 1-D case: odd, just past 2**14, so a vectorised kernel has a tail
LARGE_1D = 16411
#: the large 2-D case: each side just past 128, 16,899 elements in all
LARGE_2D = (129, 131)


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
