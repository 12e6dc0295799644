"""Units for the tutorial's "PyTorch Tensors" part."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..core import strategies as rst
from ..core.registry import FLOAT64, SHAPES_ONLY, Requires, UnitGroup
from ..tutorial import golden

units = UnitGroup()


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


# --- creation -------------------------------------------------------------------------


@units.unit("tensors.creation.zeros_default_float32")
def zeros_default_float32(ctx):
    """torch.zeros(5, 3) is a 5×3 tensor of float32 zeros, printed as the tutorial shows."""
    z = torch.zeros(5, 3, device=ctx.torch_device)
    assert z.dtype == torch.float32, f"default dtype is {z.dtype}, the tutorial says torch.float32"
    assert z.shape == (5, 3)
    ctx.assert_close(z, torch.zeros(5, 3), what="zeros(5, 3)")
    assert repr(z.cpu()) == golden.ZEROS_REPR, f"repr differs from the tutorial:\n{z.cpu()!r}"


@units.unit("tensors.creation.ones_keeps_dtype")
def ones_keeps_dtype(ctx):
    """torch.ones((5, 3), dtype=torch.int16) keeps its dtype and its repr says so."""
    i = torch.ones((5, 3), dtype=torch.int16, device=ctx.torch_device)
    assert i.dtype == torch.int16, f"asked for int16, got {i.dtype}"
    assert bool((i == 1).all()), "ones() holds values other than 1"
    assert repr(i.cpu()) == golden.ONES_INT16_REPR, f"repr differs from the tutorial:\n{i.cpu()!r}"


@units.unit("tensors.creation.factories_any_shape_dtype")
def factories_any_shape_dtype(ctx):
    """For any shape and supported dtype, zeros/ones/full give that shape, dtype, device and value."""

    @ctx.given(shape=rst.shapes(min_dims=0), dtype=rst.dtypes(ctx.device), fill=st.integers(0, 1))
    def prop(shape, dtype, fill):
        for name, made, value in (
            ("zeros", torch.zeros(shape, dtype=dtype, device=ctx.torch_device), 0),
            ("ones", torch.ones(shape, dtype=dtype, device=ctx.torch_device), 1),
            ("full", torch.full(shape, fill, dtype=dtype, device=ctx.torch_device), fill),
        ):
            assert made.shape == torch.Size(shape), f"{name}{shape}: shape {tuple(made.shape)}"
            assert made.dtype == dtype, f"{name}(dtype={dtype}) gave {made.dtype}"
            assert made.device.type == ctx.torch_device.type, f"{name} landed on {made.device}"
            assert bool((made.cpu() == value).all()), f"{name}{shape} {dtype}: not all {value}"

    prop()


# --- seeding --------------------------------------------------------------------------


@units.unit("tensors.seed.golden")
def seed_golden(ctx):
    """manual_seed(1729) then rand(2, 2) gives the tutorial's printed values, and the next call its second."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(golden.SEED)
        first = torch.rand(2, 2)
        second = torch.rand(2, 2)
    ctx.assert_golden(first, golden.RAND_AFTER_SEED, what="rand(2, 2) after manual_seed(1729)")
    ctx.assert_golden(second, golden.RAND_NEXT, what="the second rand(2, 2)")
    # Devices reproduce CPU numbers by receiving them, not by having the same generator.
    ctx.assert_close(first.to(ctx.torch_device), first, what="seeded CPU values moved to the device")


@units.unit("tensors.seed.repeats", requires=Requires(capabilities=frozenset({"values", "seeding"})))
def seed_repeats(ctx):
    """Re-seeding repeats the values on the device; the next call without re-seeding differs."""
    devices = [] if ctx.torch_device.type == "cpu" else [ctx.torch_device]

    @ctx.given(seed=st.integers(0, 2**32 - 1), shape=rst.shapes(min_dims=1, max_dims=3, min_side=2))
    def prop(seed, shape):
        with torch.random.fork_rng(devices=devices, device_type=ctx.torch_device.type):
            torch.manual_seed(seed)
            a = torch.rand(shape, device=ctx.torch_device)
            b = torch.rand(shape, device=ctx.torch_device)
            torch.manual_seed(seed)
            c = torch.rand(shape, device=ctx.torch_device)
        assert torch.equal(a.cpu(), c.cpu()), f"manual_seed({seed}) did not repeat rand{shape}"
        assert not torch.equal(a.cpu(), b.cpu()), f"two draws after manual_seed({seed}) were identical"

    prop()


# --- arithmetic -----------------------------------------------------------------------


@units.unit("tensors.arithmetic.ones_plus_twos", tags=("layouts",))
def ones_plus_twos(ctx):
    """ones + twos = threes elementwise and keeps the (2, 3) shape; scalars distribute over tensors."""
    ones = torch.ones(2, 3, device=ctx.torch_device)
    twos = torch.ones(2, 3, device=ctx.torch_device) * 2
    threes = ones + twos
    assert threes.shape == (2, 3), f"shape {tuple(threes.shape)}"
    ctx.assert_close(twos, torch.full((2, 3), 2.0), what="ones * 2")
    ctx.assert_close(threes, torch.full((2, 3), 3.0), what="ones + twos")

    @ctx.given(
        a=rst.tensors(ctx.device, shape=(3, 4), min_value=-100, max_value=100),
        b=rst.tensors(ctx.device, shape=(3, 4), min_value=-100, max_value=100),
        s=st.floats(-10, 10, allow_nan=False),
    )
    def distributes(a, b, s):
        ctx.assert_close((a + b) * s, a * s + b * s, what="(a + b) * s vs a*s + b*s", rtol=1e-5, atol=1e-3)

    distributes()


@units.unit("tensors.arithmetic.mismatched_shapes_raise", requires=SHAPES_ONLY)
def mismatched_shapes_raise(ctx):
    """Adding a (2, 3) and a (3, 2) tensor raises RuntimeError, as the tutorial warns."""
    r1 = torch.rand(2, 3, device=ctx.torch_device)
    r2 = torch.rand(3, 2, device=ctx.torch_device)
    try:
        r1 + r2
    except RuntimeError:
        return
    raise AssertionError("(2, 3) + (3, 2) did not raise RuntimeError")


@units.unit("tensors.arithmetic.broadcast_matches_numpy", requires=FLOAT64, tags=("layouts",))
def broadcast_matches_numpy(ctx):
    """For broadcast-compatible shapes, a + b and a * b have numpy's shape and values."""

    # min_side=0: empty tensors broadcast too
    @ctx.given(data=st.data(), shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, min_side=0, max_side=4))
    def prop(data, shapes):
        a = data.draw(rst.tensors(ctx.device, shape=shapes.input_shapes[0], dtype=torch.float64))
        b = data.draw(rst.tensors(ctx.device, shape=shapes.input_shapes[1], dtype=torch.float64))
        for op, ref in ((torch.add, np.add), (torch.mul, np.multiply)):
            got = op(a, b)
            want = ref(_np(a), _np(b))
            assert tuple(got.shape) == want.shape, f"{op.__name__} of {shapes.input_shapes}: {tuple(got.shape)} vs numpy {want.shape}"
            ctx.assert_close(got, torch.from_numpy(np.asarray(want)), what=f"{op.__name__} vs numpy",
                             repro=(f"torch.{op.__name__}(a, b)", {"a": a, "b": b}))

    prop()


# --- math -----------------------------------------------------------------------------


@units.unit("tensors.math.golden")
def math_golden(ctx):
    """The tutorial's r gives its printed abs, asin, det, svd (U, S, V up to each pair's sign), std_mean and max."""
    r_cpu = golden.replay().r
    ctx.assert_golden(r_cpu, golden.R, what="r = (rand(2, 2) - 0.5) * 2")
    r = r_cpu.to(ctx.torch_device)
    u, s, v = torch.svd(r)
    # A singular pair (uᵢ, vᵢ) is unique only up to a shared sign, and backends choose differently
    # (cuSOLVER negates the tutorial's first pair): flip both vectors of a pair to the printed choice.
    flip = torch.sign((u.cpu() * torch.tensor(golden.SVD_U)).sum(0)).to(u.device)
    u, v = u * flip, v * flip
    std, mean = torch.std_mean(r)
    results = {
        "abs(r)": (torch.abs(r), golden.ABS_R),
        "asin(r)": (torch.asin(r), golden.ASIN_R),
        "det(r)": (torch.det(r), golden.DET_R),
        "svd(r).U": (u, golden.SVD_U),
        "svd(r).S": (s, golden.SVD_S),
        "svd(r).V": (v, golden.SVD_V),
        "std_mean(r)[0]": (std, golden.STD_MEAN_R[0]),
        "std_mean(r)[1]": (mean, golden.STD_MEAN_R[1]),
        "max(r)": (torch.max(r), golden.MAX_R),
    }
    for what, (got, printed) in results.items():
        ctx.assert_golden(got.cpu(), printed, what=what)


@units.unit("tensors.math.abs_matches_numpy", tags=("layouts",))
def abs_matches_numpy(ctx):
    """abs is non-negative and equals numpy's abs (0-d and empty tensors included)."""

    def check(x):
        got = torch.abs(x)
        assert bool((got >= 0).all()), "abs returned a negative value"
        ctx.assert_close(got, torch.from_numpy(np.asarray(np.abs(_np(x)))), what="abs vs numpy")

    for edge in (torch.tensor(-1.5), torch.empty(0), torch.empty(2, 0, 3)):
        check(edge.to(ctx.torch_device))
    sweep = torch.linspace(-4, 4, 2 * 3 * 4 * 5, dtype=torch.float64).reshape(2, 3, 4, 5).to(ctx.torch_device)
    for _, x in rst.each_layout(sweep.float()):
        check(x)
    ctx.given(x=rst.tensors(ctx.device))(check)()


@units.unit("tensors.math.asin_inverts_sin", requires=FLOAT64, tags=("layouts",))
def asin_inverts_sin(ctx):
    """asin(sin(x)) = x on [-π/2, π/2], and asin equals numpy's arcsin on [-1, 1] (float64)."""

    @ctx.given(
        x=rst.tensors(ctx.device, dtype=torch.float64, min_value=-np.pi / 2, max_value=np.pi / 2),
        y=rst.tensors(ctx.device, dtype=torch.float64, min_value=-1, max_value=1),
    )
    def prop(x, y):
        ctx.assert_close(torch.asin(torch.sin(x)), x, what="asin(sin(x))", rtol=1e-7, atol=1e-6)
        ctx.assert_close(torch.asin(y), torch.from_numpy(np.arcsin(_np(y))), what="asin vs numpy")

    prop()


def _square(device, n):
    # Entries bounded away from overflow and from underflow: with entries of 1e-308 the product
    # AB holds subnormals, where LU's pivots turn det(AB) into NaN. 0 stays possible (singular matrices).
    return rst.tensors(device, shape=(n, n), dtype=torch.float64, min_value=-2, max_value=2, min_magnitude=2**-10)


@units.unit("tensors.math.det_is_multiplicative", requires=FLOAT64, tags=("layouts",))
def det_is_multiplicative(ctx):
    """det(AB) = det(A)·det(B), and det equals numpy's (float64)."""

    @ctx.given(data=st.data(), n=st.integers(1, 4))
    def prop(data, n):
        a = data.draw(_square(ctx.device, n))
        b = data.draw(_square(ctx.device, n))
        ctx.assert_close(torch.det(a @ b), torch.det(a) * torch.det(b), what="det(AB) vs det(A)det(B)", rtol=1e-7, atol=1e-7)
        ctx.assert_close(torch.det(a), torch.tensor(np.linalg.det(_np(a))), what="det vs numpy", rtol=1e-7, atol=1e-7)

    prop()


@units.unit("tensors.math.svd_reconstructs", requires=FLOAT64, tags=("layouts",))
def svd_reconstructs(ctx):
    """torch.svd gives U·diag(S)·Vᵀ = A with orthonormal columns and sorted, non-negative S (float64)."""

    @ctx.given(a=rst.tensors(ctx.device, shape=rst.shapes(min_dims=2, max_dims=2, max_side=5), dtype=torch.float64))
    def prop(a):
        u, s, v = torch.svd(a)
        ctx.assert_close(u @ torch.diag(s) @ v.T, a, what="U diag(S) Vᵀ", rtol=1e-7, atol=1e-9 * max(1.0, float(a.abs().max())))
        k = s.shape[0]
        ctx.assert_close(u.T @ u, torch.eye(k, dtype=torch.float64), what="UᵀU", rtol=0, atol=1e-9)
        ctx.assert_close(v.T @ v, torch.eye(k, dtype=torch.float64), what="VᵀV", rtol=0, atol=1e-9)
        assert bool((s >= 0).all()) and bool((s[:-1] >= s[1:]).all()), f"singular values not sorted/non-negative: {s}"

    prop()


@units.unit("tensors.math.std_mean_matches_numpy", requires=FLOAT64, tags=("layouts",))
def std_mean_matches_numpy(ctx):
    """std_mean returns (std with Bessel's correction, mean), matching numpy's ddof=1 std and mean."""

    @ctx.given(x=rst.tensors(ctx.device, shape=rst.shapes(min_dims=1, max_dims=3), dtype=torch.float64).filter(lambda t: t.numel() > 1))
    def prop(x):
        std, mean = torch.std_mean(x)
        ctx.assert_close(mean, torch.tensor(np.mean(_np(x))), what="mean", rtol=1e-9, atol=1e-9)
        ctx.assert_close(std, torch.tensor(np.std(_np(x), ddof=1)), what="std (Bessel)", rtol=1e-9, atol=1e-9)

    prop()


@units.unit("tensors.math.max_matches_numpy", tags=("layouts",))
def max_matches_numpy(ctx):
    """torch.max of a tensor equals numpy's max and is one of its elements."""

    @ctx.given(x=rst.tensors(ctx.device))
    def prop(x):
        got = torch.max(x)
        assert float(got) == float(np.max(_np(x))), f"max {float(got)} vs numpy {np.max(_np(x))}"

    prop()
