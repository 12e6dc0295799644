"""Numerics of the tutorial's layers past its small examples: linear, conv2d and max_pool2d in every
floating dtype, at sizes past kernels' tiles (more than 256 features, more than 32 channels and
samples, 64×64 and odd 65×67 images) and with NaN/inf in pooling windows; and the gradients of
conv2d, linear, max_pool2d, relu and cross_entropy over a batch, against numpy formulas that share
no code with torch's autograd.

Layer inputs are drawn on a dyadic grid (multiples of 1/8 and 1/16): their products and sums are
exact in a float32 accumulator, so a correct kernel differs from the float64 reference only by the
final rounding to the dtype, whatever the size.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from ..core.extremal import float_extremals, rounded, short
from ..core.registry import UnitGroup
from .models import _windows, conv_geometry, numpy_max_pool2d
from .numerics import Checker, _np, reference

units = UnitGroup()
nn = torch.nn


def _grid(shape, seed: int, step: float = 1 / 8, span: int = 16) -> torch.Tensor:
    """float64 multiples of ``step`` in [-span·step, span·step], seeded on the CPU."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(-span, span + 1, shape, generator=gen).to(torch.float64) * step


def _module(module: nn.Module, **params: torch.Tensor) -> nn.Module:
    """``module`` (built on meta, so nothing is initialised) holding the given tensors as parameters."""
    for name, value in params.items():
        setattr(module, name, nn.Parameter(value, requires_grad=value.requires_grad))
    return module


def np_linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    return x @ w.T + (0.0 if b is None else b)


def np_conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: int, dilation: int) -> np.ndarray:
    """Cross-correlation as a matrix product of the sliding windows with the flattened kernels."""
    win = _windows(x, w.shape[-1], stride, padding, dilation, 0.0)  # N C OH OW K K
    n, c, oh, ow, k, _ = win.shape
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * k * k)
    out = cols @ w.reshape(w.shape[0], -1).T + b
    return out.reshape(n, oh, ow, -1).transpose(0, 3, 1, 2)


# --- linear -------------------------------------------------------------------------------


def linear_forms(x, w, b) -> list:
    dev, dtype = x.device, x.dtype
    return [
        ("F.linear(x, w, b)", lambda: F.linear(x, w, b)),
        ("torch.nn.functional.linear(x, weight=w, bias=b)", lambda: F.linear(x, weight=w, bias=b)),
        ("nn.Linear", lambda: _module(nn.Linear(w.shape[1], w.shape[0], device="meta", dtype=dtype),
                                      weight=w, bias=b).to(dev)(x)),
    ]


def _check_linear(check: Checker, shapes: tuple, seed: int, dtype, case: str) -> None:
    (batch, features), out = shapes
    dev = check.ctx.torch_device
    x, x64 = rounded(_grid((batch, features), seed), dtype, dev)
    w, w64 = rounded(_grid((out, features), seed + 1, 1 / 16), dtype, dev)
    b, b64 = rounded(_grid((out,), seed + 2), dtype, dev)
    with torch.no_grad():
        check.forms("linear", linear_forms(x, w, b), check.reference(case, np_linear, *map(_np, (x64, w64, b64))),
                    dtype=dtype, case=case)
        check.forms("linear without bias", [("F.linear(x, w)", lambda: F.linear(x, w))],
                    check.reference((case, "no bias"), lambda x, w: np_linear(x, w, None), _np(x64), _np(w64)),
                    dtype=dtype, case=case)


@units.unit("models.linear.matches_numpy_past_256_features", tags=("dtypes", "large", "variants"))
def linear_past_256(ctx):
    """F.linear and nn.Linear match numpy in every dtype, for a 257×263 input to 259 outputs and drawn small ones."""
    check = Checker(ctx, "models.linear.matches_numpy_past_256_features")
    with ctx.tiny_kernels():
        for dtype in check.dtypes():
            _check_linear(check, ((257, 263), 259), 0, dtype, "257 rows × 263 features → 259")
            _check_linear(check, ((3, 17), 9), 3, dtype, "3 rows × 17 features → 9")

        @ctx.given(batch=st.integers(1, 4), features=st.integers(1, 9), out=st.integers(1, 9),
                   dtype=st.sampled_from(check.dtypes()), seed=st.integers(0, 2**16), max_examples=4)
        def drawn(batch, features, out, dtype, seed):
            _check_linear(check, ((batch, features), out), seed, dtype, f"drawn {batch}×{features} → {out}")

        drawn()
    check.done()


# --- conv2d -------------------------------------------------------------------------------


def conv_forms(x, w, b, stride, padding, dilation) -> list:
    out_ch, in_ch, k, _ = w.shape

    def module():
        conv = nn.Conv2d(in_ch, out_ch, k, stride=stride, padding=padding, dilation=dilation, device="meta",
                         dtype=x.dtype)
        return _module(conv, weight=w, bias=b).to(x.device)(x)

    return [
        ("F.conv2d", lambda: F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)),
        ("torch.conv2d", lambda: torch.conv2d(x, w, b, stride, padding, dilation)),
        ("nn.Conv2d", module),
    ]


def _check_conv(check: Checker, batch: int, c_in: int, c_out: int, size: int, kernel: int, stride: int, padding: int,
                dilation: int, seed: int, dtype, case: str) -> None:
    dev = check.ctx.torch_device
    x, x64 = rounded(_grid((batch, c_in, size, size), seed), dtype, dev)
    w, w64 = rounded(_grid((c_out, c_in, kernel, kernel), seed + 1, 1 / 16), dtype, dev)
    b, b64 = rounded(_grid((c_out,), seed + 2), dtype, dev)
    geometry = (stride, padding, dilation)
    with torch.no_grad():
        want = check.reference((case, geometry), lambda *a: np_conv2d(*a, *geometry), *map(_np, (x64, w64, b64)))
        check.forms("conv2d", conv_forms(x, w, b, *geometry), want, dtype=dtype,
                    case=f"{case}; stride, padding, dilation {geometry}")


@units.unit("models.conv.conv2d_matches_numpy_past_32_channels", tags=("dtypes", "large", "variants"))
def conv_past_32(ctx):
    """F.conv2d, torch.conv2d and nn.Conv2d match numpy in every dtype, for 33 samples of 35 channels to 37 and drawn small geometries."""
    check = Checker(ctx, "models.conv.conv2d_matches_numpy_past_32_channels")
    with ctx.tiny_kernels():
        for dtype in check.dtypes():
            _check_conv(check, 33, 35, 37, 6, 3, 1, 1, 1, 0, dtype, "33 samples, 35 → 37 channels, 6×6, 3×3 kernel")
            _check_conv(check, 2, 3, 5, 9, 3, 2, 0, 1, 3, dtype, "2 samples, 3 → 5 channels, 9×9, 3×3 kernel")

        @ctx.given(g=conv_geometry(), c_in=st.integers(1, 3), c_out=st.integers(1, 3), batch=st.integers(1, 3),
                   dtype=st.sampled_from(check.dtypes()), seed=st.integers(0, 2**16), max_examples=4)
        def drawn(g, c_in, c_out, batch, dtype, seed):
            _check_conv(check, batch, c_in, c_out, g["size"], g["kernel"], g["stride"], g["padding"], g["dilation"],
                        seed, dtype, f"drawn {batch}×{c_in}→{c_out}, {g['size']}×{g['size']}, kernel {g['kernel']}")

        drawn()
    check.done()


# --- max_pool2d ---------------------------------------------------------------------------


def pool_forms(x, kernel, stride, padding) -> list:
    def picked():
        # the values max_pool2d's indices point at (per image, flattened): they must be the maxima
        values, indices = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
        flat = indices.flatten(2)
        assert indices.dtype == torch.int64 and bool(((flat >= 0) & (flat < x.shape[2] * x.shape[3])).all()), (
            f"max_pool2d's indices fall outside the image: {indices.cpu()}")
        return x.flatten(2).gather(2, flat).view(values.shape)

    return [
        ("F.max_pool2d", lambda: F.max_pool2d(x, kernel, stride, padding)),
        ("torch.max_pool2d", lambda: torch.max_pool2d(x, kernel, stride, padding)),
        ("nn.MaxPool2d", lambda: nn.MaxPool2d(kernel, stride, padding)(x)),
        ("F.max_pool2d(return_indices=True)[0]", lambda: F.max_pool2d(x, kernel, stride, padding, return_indices=True)[0]),
        ("nn.MaxPool2d(return_indices=True)[0]", lambda: nn.MaxPool2d(kernel, stride, padding, return_indices=True)(x)[0]),
        ("x at F.max_pool2d(return_indices=True)[1]", picked),
    ]


def _check_pool(check: Checker, values: torch.Tensor, kernel: int, stride: int, padding: int, dtype, case: str,
                equal_nan: bool = False) -> None:
    x, x64 = rounded(values, dtype, check.ctx.torch_device)
    want = reference(numpy_max_pool2d, _np(x64), kernel, stride, padding, 1)
    check.forms("max_pool2d", pool_forms(x, kernel, stride, padding), want, dtype=dtype,
                case=f"{case}; kernel {kernel}, stride {stride}, padding {padding}", equal_nan=equal_nan)


def _extremal_images(dtype) -> tuple[torch.Tensor, list[str]]:
    """One 4×4 channel per extremal value, which sits at a different place in each 2×2 window (so
    NaN is first, second, third and last in one of them), and channels all NaN and all -inf."""
    table = float_extremals(dtype)
    base = _grid((4, 4), 5)
    places = [(0, 0), (0, 3), (3, 2), (3, 3)]
    channels, said = [], []
    for name, value in table.items():
        image = base.clone()
        for place in places:
            image[place] = value
        channels.append(image)
        said.append(name)
    channels += [torch.full((4, 4), float("nan")), torch.full((4, 4), float("-inf"))]
    return torch.stack(channels)[None], said + ["all nan", "all -inf"]


@units.unit("models.pool.max_pool2d_matches_numpy_in_every_dtype", tags=("dtypes", "extremal", "large", "variants"))
def pool_every_dtype(ctx):
    """max_pool2d (function, module, indices) matches numpy in every dtype: a window holding NaN gives NaN, on 64×64 and 65×67 images too."""
    check = Checker(ctx, "models.pool.max_pool2d_matches_numpy_in_every_dtype")
    gen = torch.Generator().manual_seed(0)
    with ctx.tiny_kernels():
        for dtype in check.dtypes():
            big = torch.randn(2, 3, 64, 64, generator=gen, dtype=torch.float64)
            _check_pool(check, big, 2, 2, 0, dtype, "2×3×64×64")
            odd = torch.randn(1, 2, 65, 67, generator=gen, dtype=torch.float64)
            _check_pool(check, odd, 3, 2, 1, dtype, "1×2×65×67")
            big[1, 2, 63, 63] = big[0, 0, 0, 0] = odd[0, 1, 64, 66] = float("nan")
            _check_pool(check, big, 2, 2, 0, dtype, "2×3×64×64 with NaN at the first and last pixels", True)
            _check_pool(check, odd, 3, 2, 1, dtype, "1×2×65×67 with NaN at the last pixel", True)
            images, said = _extremal_images(dtype)
            for kernel, stride in ((2, 2), (3, 1)):
                _check_pool(check, images, kernel, stride, 0, dtype, f"4×4 channels holding {said}", True)

        @ctx.given(g=conv_geometry(), channels=st.integers(1, 3), batch=st.integers(1, 3),
                   dtype=st.sampled_from(check.dtypes()), seed=st.integers(0, 2**16), max_examples=4)
        def drawn(g, channels, batch, dtype, seed):
            if g["padding"] * 2 > g["kernel"]:  # max_pool2d allows at most half the kernel as padding
                return
            values = _grid((batch, channels, g["size"], g["size"]), seed)
            _check_pool(check, values, g["kernel"], g["stride"], g["padding"], dtype, f"drawn {tuple(values.shape)}")

        drawn()
    check.done()


# --- gradients over a batch ---------------------------------------------------------------


def np_conv2d_grads(x, w, g, padding):
    """Gradients of Σ g·conv2d(x, w, b) (stride 1): dW sums each sample's windows times its upstream
    gradient, db sums g, dx spreads g back through each kernel tap."""
    k = w.shape[-1]
    win = _windows(x, k, 1, padding, 1, 0.0)  # N C OH OW K K
    dw = np.einsum("nohw,nchwij->ocij", g, win)
    dx = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * padding, x.shape[3] + 2 * padding))
    oh, ow = g.shape[2], g.shape[3]
    for i in range(k):
        for j in range(k):
            dx[:, :, i:i + oh, j:j + ow] += np.einsum("nohw,oc->nchw", g, w[:, :, i, j])
    return dx[:, :, padding:dx.shape[2] - padding, padding:dx.shape[3] - padding], dw, g.sum(axis=(0, 2, 3))


def np_max_pool2d_grad(x, g, kernel, stride):
    """The gradient of Σ g·max_pool2d(x) goes, window by window, to the position of its maximum."""
    win = _windows(x, kernel, stride, 0, 1, -np.inf)  # N C OH OW K K
    n, c, oh, ow = win.shape[:4]
    flat = win.reshape(n, c, oh, ow, kernel * kernel).argmax(-1)
    rows = np.arange(oh)[:, None] * stride + flat // kernel
    cols = np.arange(ow)[None, :] * stride + flat % kernel
    dx = np.zeros_like(x)
    nn_, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    np.add.at(dx, (nn_[:, :, None, None], cc[:, :, None, None], rows, cols), g)
    return dx


def np_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _leaves(dtype, dev, *arrays):
    return [torch.from_numpy(a).to(dtype).to(dev).requires_grad_() for a in arrays]


def _grads_match(check: Checker, op: str, form: str, dtype, leaves: dict, want: dict) -> None:
    for name, leaf in leaves.items():
        assert leaf.grad is not None, f"{op} ({form}; {short(dtype)}): no gradient reached {name}"
        check.forms(op, [(f"{form}: d/d{name}", lambda leaf=leaf: leaf.grad)], torch.from_numpy(want[name]),
                    dtype=dtype, case="a batch of distinct samples, sum of g · output")


def _linear_grads(check: Checker, dtype, dev, x2, w2, b2, g2) -> None:
    for form in ("F.linear", "nn.Linear"):
        x, w, b = _leaves(dtype, dev, x2, w2, b2)
        layer = F.linear if form == "F.linear" else _module(nn.Linear(7, 5, device="meta", dtype=dtype),
                                                            weight=w, bias=b)
        y = F.linear(x, w, b) if form == "F.linear" else layer(x)
        (y * torch.from_numpy(g2).to(dtype).to(dev)).sum().backward()
        params = {"w": w, "b": b} if form == "F.linear" else {"w": layer.weight, "b": layer.bias}
        _grads_match(check, "linear backward", form, dtype, {"x": x, **params},
                     {"x": g2 @ w2, "w": g2.T @ x2, "b": g2.sum(0)})


def _conv2d_grads(check: Checker, dtype, dev, x4, w4, b4, g4) -> None:
    dx, dw, db = np_conv2d_grads(x4, w4, g4, 1)
    for form in ("F.conv2d", "nn.Conv2d"):
        x, w, b = _leaves(dtype, dev, x4, w4, b4)
        if form == "F.conv2d":
            y, params = F.conv2d(x, w, b, padding=1), {"w": w, "b": b}
        else:
            layer = _module(nn.Conv2d(2, 3, 3, padding=1, device="meta", dtype=dtype), weight=w, bias=b)
            y, params = layer(x), {"w": layer.weight, "b": layer.bias}
        (y * torch.from_numpy(g4).to(dtype).to(dev)).sum().backward()
        _grads_match(check, "conv2d backward", form, dtype, {"x": x, **params}, {"x": dx, "w": dw, "b": db})


def _max_pool2d_grads(check: Checker, dtype, dev, xp, n: int) -> None:
    for kernel, stride in ((2, 2), (3, 2)):
        out = (6 - kernel) // stride + 1
        g = _np(_grid((n, 2, out, out), 11))
        forms = {"F.max_pool2d": lambda x: F.max_pool2d(x, kernel, stride),
                 "nn.MaxPool2d": lambda x: nn.MaxPool2d(kernel, stride)(x)}
        for form, fn in forms.items():
            (x,) = _leaves(dtype, dev, xp)
            (fn(x) * torch.from_numpy(g).to(dtype).to(dev)).sum().backward()
            _grads_match(check, "max_pool2d backward", f"{form}({kernel}, {stride})", dtype, {"x": x},
                         {"x": np_max_pool2d_grad(xp, g, kernel, stride)})


def _relu_grads(check: Checker, dtype, dev, x2, g2) -> None:
    forms = {"torch.relu": torch.relu, "F.relu": F.relu, "x.relu()": lambda x: x.relu(), "nn.ReLU()": nn.ReLU(),
             "x.relu_() on x·1": lambda x: (x * 1).relu_(), "nn.ReLU(inplace=True) on x·1": lambda x: nn.ReLU(True)(x * 1)}
    xr = x2 + 1 / 16  # no zeros, where relu's derivative is a choice
    for form, fn in forms.items():
        (x,) = _leaves(dtype, dev, xr)
        (fn(x) * torch.from_numpy(g2[:, :1] + x2 * 0).to(dtype).to(dev)).sum().backward()
        _grads_match(check, "relu backward", form, dtype, {"x": x}, {"x": (g2[:, :1] + x2 * 0) * (xr > 0)})


def _cross_entropy_grads(check: Checker, dtype, dev, logits, target, n: int) -> None:
    onehot = np.eye(5)[target]
    for reduction, scale in (("mean", 1 / n), ("sum", 1.0)):
        forms = {f"F.cross_entropy(reduction={reduction!r})": lambda x, t: F.cross_entropy(x, t, reduction=reduction),
                 f"nn.CrossEntropyLoss(reduction={reduction!r})": lambda x, t: nn.CrossEntropyLoss(reduction=reduction)(x, t)}
        for form, fn in forms.items():
            (x,) = _leaves(dtype, dev, logits)
            fn(x, torch.from_numpy(target).to(dev)).backward()
            _grads_match(check, "cross_entropy backward", form, dtype, {"logits": x},
                         {"logits": (np_softmax(logits) - onehot) * scale})


@units.unit("models.gradients.sum_over_the_batch", tags=("batched_grad", "variants"))
def gradients_over_batch(ctx):
    """conv2d, linear, max_pool2d, relu and cross_entropy gradients (input, weight, bias) over a batch of 4 equal numpy's per-sample sums."""
    check = Checker(ctx, "models.gradients.sum_over_the_batch")
    dev = ctx.torch_device
    n = 4
    # grid values keep every product exact; the upstream gradient g differs per sample, so a
    # gradient averaged over the batch, or taken from the wrong sample, cannot match
    x2, w2, b2, g2 = (_np(_grid(s, seed)) for seed, s in enumerate(((n, 7), (5, 7), (5,), (n, 5))))
    x4, w4, b4, g4 = (_np(_grid(s, seed)) for seed, s in enumerate(((n, 2, 5, 5), (3, 2, 3, 3), (3,), (n, 3, 5, 5))))
    # distinct values, so each pooling window has one maximum
    xp = _np(torch.randperm(n * 2 * 36, generator=torch.Generator().manual_seed(0)).view(n, 2, 6, 6).double() / 8)
    logits, target = _np(_grid((n, 5), 9)), np.array([0, 3, 1, 3])
    with ctx.tiny_kernels():
        for dtype in check.dtypes((torch.float32, torch.float64)):
            _linear_grads(check, dtype, dev, x2, w2, b2, g2)
            _conv2d_grads(check, dtype, dev, x4, w4, b4, g4)
            _max_pool2d_grads(check, dtype, dev, xp, n)
            _relu_grads(check, dtype, dev, x2, g2)
            _cross_entropy_grads(check, dtype, dev, logits, target, n)
    check.done()
