"""Numerics of the tutorial's activations (relu, softmax, log_softmax) and its loss (cross_entropy):
every floating dtype, extremal values, large rows, logits large enough to overflow a naive formula,
and every form (function, method, in-place, module), each against a stable float64 numpy reference
computed from the same rounded inputs."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..core import strategies as rst
from ..core.extremal import float_extremals, rounded, short
from ..core.registry import UnitGroup
from .numerics import LARGE_1D, LARGE_2D, Checker, Finding, _extremal_rows, _np, _uniform, reference

units = UnitGroup()
nn = torch.nn


def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def np_cross_entropy(logits: np.ndarray, target: np.ndarray, reduction: str) -> np.ndarray:
    """−log softmax(logits)[target] per sample, then the reduction (mean over the batch by default)."""
    losses = -np.take_along_axis(np_log_softmax(logits, 1), target[:, None], 1)[:, 0]
    if reduction == "none":
        return losses
    # extended precision: losses near float64's max must not overflow the reference's own sum
    wide = losses.astype(np.longdouble)
    return (wide.sum() if reduction == "sum" else wide.mean()).astype(np.float64)


def relu_forms(x: torch.Tensor) -> list:
    """Every way the tutorial's code (and a user's) calls relu; the in-place ones on a copy."""
    return [
        ("torch.relu(x)", lambda: torch.relu(x)),
        ("F.relu(x)", lambda: F.relu(x)),
        ("x.relu()", lambda: x.relu()),
        ("x.relu_()", lambda: x.clone().relu_()),
        ("torch.relu_(x)", lambda: torch.relu_(x.clone())),
        ("F.relu(x, inplace=True)", lambda: F.relu(x.clone(), inplace=True)),
        ("nn.ReLU()(x)", lambda: nn.ReLU()(x)),
        ("nn.ReLU(inplace=True)(x)", lambda: nn.ReLU(inplace=True)(x.clone())),
    ]


def softmax_forms(op: str, x: torch.Tensor, dim: int) -> list:
    """torch.op, F.op, x.op and the module (nn.Softmax / nn.LogSoftmax) along ``dim``."""
    module = {"softmax": nn.Softmax, "log_softmax": nn.LogSoftmax}[op]
    return [
        (f"torch.{op}(x, {dim})", lambda: getattr(torch, op)(x, dim)),
        (f"F.{op}(x, {dim})", lambda: getattr(F, op)(x, dim)),
        (f"x.{op}({dim})", lambda: getattr(x, op)(dim)),
        (f"nn.{module.__name__}({dim})(x)", lambda: module(dim)(x)),
    ]


def cross_entropy_forms(x: torch.Tensor, target: torch.Tensor, reduction: str) -> list:
    return [
        (f"F.cross_entropy(x, t, reduction={reduction!r})", lambda: F.cross_entropy(x, target, reduction=reduction)),
        (f"nn.CrossEntropyLoss(reduction={reduction!r})", lambda: nn.CrossEntropyLoss(reduction=reduction)(x, target)),
    ]


SOFTMAXES = {"softmax": np_softmax, "log_softmax": np_log_softmax}


#: log_softmax results in these dtypes are compared only where |result| >= this (see the finding below)
LOG_SOFTMAX_NEAR_ZERO = {"float16": 2.0, "bfloat16": 2.0}
LOG_SOFTMAX_FINDING = (
    "torch's float16/bfloat16 log_softmax on the CPU is off by up to half an ulp of 1 (float16: 4.9e-4) where "
    "the result is near 0, e.g. float16 log_softmax([5, 1])[0] = -0.01839, correctly rounded -0.01814: it rounds "
    "the log-sum-exp to the dtype before subtracting. Results with |log_softmax| < 2 are not compared there")


def _compare_softmax(check: Checker, op: str, x: torch.Tensor, x64: torch.Tensor, dim: int, dtype, case: str,
                     equal_nan: bool = False) -> None:
    """Every form of ``op`` along ``dim`` against the stable reference; log_softmax's results near 0
    set aside in the dtypes where the finding says torch is off there."""
    forms, want = softmax_forms(op, x, dim), reference(SOFTMAXES[op], _np(x64), dim)
    limit = LOG_SOFTMAX_NEAR_ZERO.get(short(dtype)) if op == "log_softmax" else None
    if limit is not None:
        check.excluded.append((f"log_softmax where |result| < {limit:g}", short(dtype),
                               f"a documented finding: {LOG_SOFTMAX_FINDING}"))
        near_zero = want.abs() < limit

        def masked(run):
            def result():
                got = run()
                return got.masked_fill(near_zero.to(got.device), 0)

            return result

        forms, want = [(name, masked(run)) for name, run in forms], want.masked_fill(near_zero, 0)
    check.forms(op, forms, want, dtype=dtype, case=case, equal_nan=equal_nan)


def _activations(check: Checker, x: torch.Tensor, x64: torch.Tensor, dtype, case: str, equal_nan=False,
                 softmax_rows=None) -> None:
    """relu elementwise, and softmax/log_softmax along each dim (``softmax_rows``: only the last)."""
    check.forms("relu", relu_forms(x), reference(lambda a: np.maximum(a, 0.0), _np(x64)), dtype=dtype, case=case,
                equal_nan=equal_nan)
    dims = range(x.dim()) if softmax_rows is None else (x.dim() - 1,)
    for op in SOFTMAXES:
        for dim in dims:
            _compare_softmax(check, op, x, x64, dim, dtype, f"{case}, along dim {dim}", equal_nan)


#: rows of the extremal table whose largest value is NaN, +inf, ±finfo.max or -inf (all of it): far from
#: the others' largest, which is ordinary
_FAR_MAXIMUM = (*(f"{name} at {place}" for name in ("nan", "inf", "max") for place in (0, 4, 8)),
                "all nan", "all -inf", "all inf", "all max", "all -max", "inf and -inf", "nan and inf")

#: torch 2.15 on the CPU, against the float64 reference, and what older releases add
ACTIVATION_FINDINGS: tuple = (
    Finding(("log_softmax",), ("float16", "bfloat16"), _FAR_MAXIMUM, inner_dim_only=True, until="2.5",
            devices=("cpu",),
            why="torch < 2.5 (seen on 2.4.1; 2.15 is right) on the CPU: float16/bfloat16 log_softmax along a dim "
                "that is not the last shifts the columns in the second half of each block of 2·(float lanes) "
                "columns (16 apart with AVX512, 8 with AVX2 or none) by the maximum of the column one half-block "
                "before, not by their own: harmless where the two maxima are close (log_softmax does not "
                "depend on the shift), inf, -inf or NaN where one of them is NaN, ±inf or ±finfo.max "
                "(float16 x = ones(3, 32), x[0, 0] = 65504: log_softmax(x, 0)[:, 16] is inf, not -1.0986). "
                "The table's columns whose maximum is far from the others' are left out along dim 0; "
                "softmax, float32 and float64 are right"),
)


@units.unit("models.activations.match_numpy_in_every_dtype", tags=("dtypes", "extremal", "large", "variants"))
def activations_every_dtype(ctx):
    """relu, softmax and log_softmax match numpy in every dtype and form, on extremal values (NaN in, NaN out) and large rows."""
    check = Checker(ctx, "models.activations.match_numpy_in_every_dtype")
    dev = ctx.torch_device
    with ctx.tiny_kernels():
        for dtype in check.dtypes():
            for seed, shape in enumerate(((LARGE_1D,), LARGE_2D, (2, LARGE_1D))):
                x, x64 = rounded(_uniform(shape, -20.0, 20.0, seed), dtype, dev)
                _activations(check, x, x64, dtype, f"shape {shape}", softmax_rows=len(shape) != 2 or None)
            table = float_extremals(dtype)
            values = torch.tensor(list(table.values()) * 3, dtype=torch.float64)
            x, x64 = rounded(values, dtype, dev)
            check.forms("relu", relu_forms(x), reference(lambda a: np.maximum(a, 0.0), _np(x64)), dtype=dtype,
                        case=f"extremal values {list(table)} ×3", equal_nan=True)
            rows, said = _extremal_rows(dtype)
            for op in SOFTMAXES:
                keep = check.kept_rows(ACTIVATION_FINDINGS, op, dtype, said)
                x, x64 = rounded(rows[keep], dtype, dev)
                case = "rows with extremal values (" + "; ".join(f"row {i}: {said[k]}" for i, k in enumerate(keep)) + ")"
                _compare_softmax(check, op, x, x64, 1, dtype, case, equal_nan=True)
                # along dim 0 another kernel runs, across columns; a finding may leave some of them out
                columns = check.kept_rows(ACTIVATION_FINDINGS, op, dtype, said, inner_dim=True, rows_are="columns")
                case = "the same rows as columns"
                if columns != keep:
                    x, x64 = rounded(rows[columns], dtype, dev)
                    case = "columns with extremal values (" + "; ".join(
                        f"column {i}: {said[k]}" for i, k in enumerate(columns)) + ")"
                _compare_softmax(check, op, x.T.contiguous(), x64.T, 0, dtype, case, True)

        @ctx.given(x=hnp.arrays(np.float64, rst.shapes(max_dims=3), elements=st.floats(-20, 20)),
                   dtype=st.sampled_from(check.dtypes()), max_examples=4)
        def drawn(x, dtype):
            _activations(check, *rounded(torch.from_numpy(x), dtype, dev), dtype, f"drawn shape {x.shape}")

        drawn()
    check.done()


def _large_logits(dtype) -> list[float]:
    """Logit scales where exp overflows the dtype, or float32 if a kernel computes in it, or float64."""
    top = torch.finfo(dtype).max / 4
    return [s for s in (1e2, 1e3, 1e4, 1e30, 1e300) if s < top] + [top]


def _stable_rows(scale: float) -> torch.Tensor:
    return torch.tensor([[1.0, 0.0, -1.0], [1.0, 1.0, -1.0], [-1.0, -1.0, -0.5], [0.5, 1.0, 0.75]],
                        dtype=torch.float64) * scale


@units.unit("models.activations.softmax_stable_at_large_logits", tags=("dtypes", "extremal", "variants"))
def softmax_stable(ctx):
    """softmax and log_softmax of logits of 1e2 up to finfo.max/4 are finite and match a stable reference, in every dtype and form."""
    check = Checker(ctx, "models.activations.softmax_stable_at_large_logits")
    dev = ctx.torch_device
    with ctx.tiny_kernels():
        for dtype in check.dtypes():
            for scale in _large_logits(dtype):
                x, x64 = rounded(_stable_rows(scale), dtype, dev)
                for op in SOFTMAXES:
                    for form, run in softmax_forms(op, x, 1):
                        got = run()
                        assert bool(torch.isfinite(got).all()), (
                            f"{op} ({form}; {dtype}) of logits at scale {scale:g} is not finite:\n{got.cpu()}")
                    _compare_softmax(check, op, x, x64, 1, dtype, f"logits {_np(x64).tolist()}")
    check.done()


def _loss(check: Checker, x: torch.Tensor, x64: torch.Tensor, target: torch.Tensor, dtype, case: str,
          equal_nan=False) -> None:
    for reduction in ("mean", "sum", "none"):
        want = reference(np_cross_entropy, _np(x64), _np(target), reduction)
        check.forms(f"cross_entropy({reduction})", cross_entropy_forms(x, target.to(x.device), reduction), want,
                    dtype=dtype, case=case, equal_nan=equal_nan)


#: torch 2.15 on the CPU, against the float64 reference
LOSS_FINDINGS: tuple = ()
CROSS_ENTROPY_MEAN_FINDING = (
    "cross_entropy's mean reduction is inf when the per-sample losses sum past finfo.max, though their mean is "
    "finite (float16 at logits of 16376: mean 17400, torch inf): torch sums the losses in the dtype, then divides")


@units.unit("models.loss.cross_entropy_matches_numpy_in_every_dtype", tags=("dtypes", "extremal", "large", "variants"))
def cross_entropy_every_dtype(ctx):
    """cross_entropy (mean, sum, none; function and nn.CrossEntropyLoss) matches numpy in every dtype, with NaN/inf logits and 257×263 batches."""
    check = Checker(ctx, "models.loss.cross_entropy_matches_numpy_in_every_dtype")
    dev = ctx.torch_device
    gen = torch.Generator().manual_seed(0)
    with ctx.tiny_kernels():
        for dtype in check.dtypes():
            x, x64 = rounded(_uniform((257, 263), -8.0, 8.0, 1), dtype, dev)
            _loss(check, x, x64, torch.randint(0, 263, (257,), generator=gen), dtype, "a batch of 257, 263 classes")
            rows, said = _extremal_rows(dtype)
            for op in ("cross_entropy(mean)", "cross_entropy(sum)", "cross_entropy(none)"):
                keep = check.kept_rows(LOSS_FINDINGS, op, dtype, said)
                x, x64 = rounded(rows[keep], dtype, dev)
                # every row's target at its extremal value's place and away from it
                for place in (0, 4, 8, 1):
                    target = torch.full((len(keep),), place)
                    reduction = op[len("cross_entropy("):-1]
                    check.forms(op, cross_entropy_forms(x, target.to(dev), reduction),
                                reference(np_cross_entropy, _np(x64), _np(target), reduction), dtype=dtype,
                                case=f"target {place}; rows with extremal values ({'; '.join(said[k] for k in keep)})",
                                equal_nan=True)

        @ctx.given(data=st.data(), batch=st.integers(1, 5), classes=st.integers(2, 6),
                   dtype=st.sampled_from(check.dtypes()), max_examples=4)
        def drawn(data, batch, classes, dtype):
            logits = data.draw(hnp.arrays(np.float64, (batch, classes), elements=st.floats(-20, 20)))
            target = torch.tensor(data.draw(st.lists(st.integers(0, classes - 1), min_size=batch, max_size=batch)))
            _loss(check, *rounded(torch.from_numpy(logits), dtype, dev), target, dtype, f"drawn {batch}×{classes}")

        drawn()
    check.done()


@units.unit("models.loss.cross_entropy_stable_at_large_logits", tags=("dtypes", "extremal", "variants"))
def cross_entropy_stable(ctx):
    """cross_entropy of logits of 1e2 up to finfo.max/4 is finite and matches a stable reference, in every dtype and form."""
    check = Checker(ctx, "models.loss.cross_entropy_stable_at_large_logits")
    dev = ctx.torch_device
    with ctx.tiny_kernels():
        for dtype in check.dtypes():
            top = torch.finfo(dtype).max
            for scale in _large_logits(dtype):
                x, x64 = rounded(_stable_rows(scale), dtype, dev)
                for place in range(3):
                    target = torch.full((4,), place)
                    total = float(reference(np_cross_entropy, _np(x64), _np(target), "sum"))
                    for reduction in ("none", "sum", "mean"):
                        case = f"logits {_np(x64).tolist()}, target {place}"
                        if reduction == "mean" and total > top:
                            check.excluded.append(("cross_entropy(mean) where the losses sum past finfo.max", short(dtype),
                                                   f"a documented finding: {CROSS_ENTROPY_MEAN_FINDING}"))
                            continue
                        forms = cross_entropy_forms(x, target.to(dev), reduction)
                        # the sum of losses is itself past the dtype's max there: inf is the right answer
                        if not (reduction == "sum" and total > top):
                            for form, run in forms:
                                got = run()
                                assert bool(torch.isfinite(got).all()), (
                                    f"cross_entropy ({form}; {dtype}) of logits at scale {scale:g}, target {place}, "
                                    f"is not finite:\n{got.cpu()}")
                        check.forms(f"cross_entropy({reduction})", forms,
                                    reference(np_cross_entropy, _np(x64), _np(target), reduction), dtype=dtype, case=case)
    check.done()
