"""Units for the tutorial's "PyTorch Models" part, and the conv/pool hot path of its networks."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from torch.autograd.gradcheck import GradcheckError

from ..core import strategies as rst
from ..core.registry import FLOAT64, SHAPES_ONLY, UnitGroup
from ..tutorial import golden
from ..tutorial.hotpath import decision_margin, stage_fn
from ..tutorial.nets import LeNet, Net

units = UnitGroup()
NETS = {"LeNet": (LeNet, 1), "Net": (Net, 3)}


def _seeded(cls, seed=0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls()


@units.unit("models.lenet.repr_matches_tutorial", requires=SHAPES_ONLY)
def lenet_repr(ctx):
    """print(LeNet()) shows exactly the layer structure the tutorial prints."""
    got = repr(LeNet().to(ctx.torch_device))
    assert got == golden.LENET_REPR, f"LeNet repr differs from the tutorial:\n{got}"


@units.unit("models.parameters.match_tutorial_counts", requires=SHAPES_ONLY)
def parameter_counts(ctx):
    """LeNet has 61,706 learnable parameters and the CIFAR Net 62,006."""
    for cls, expected in ((LeNet, golden.LENET_PARAMETERS), (Net, golden.NET_PARAMETERS)):
        got = sum(p.numel() for p in cls().to(ctx.torch_device).parameters() if p.requires_grad)
        assert got == expected, f"{cls.__name__} has {got:,} parameters, the tutorial's has {expected:,}"


@units.unit("models.lenet.maps_one_image_to_ten_scores", requires=SHAPES_ONLY)
def lenet_output_shape(ctx):
    """A (1, 1, 32, 32) input gives a (1, 10) output."""
    out = LeNet().to(ctx.torch_device)(torch.rand(1, 1, 32, 32, device=ctx.torch_device))
    assert out.shape == (1, 10), f"output shape {tuple(out.shape)}"


@units.unit("models.lenet.untrained_output_matches_tutorial")
def lenet_golden_output(ctx):
    """With the tutorial's RNG stream replayed, the untrained LeNet prints the tutorial's raw output."""
    replay = golden.replay()
    cpu_out = replay.lenet(replay.lenet_input)
    ctx.assert_golden(cpu_out, golden.LENET_OUTPUT, what="untrained LeNet output (CPU)")
    # Other devices receive the CPU-initialised network: their generators differ.
    net = replay.lenet.to(ctx.torch_device)
    out = net(replay.lenet_input.to(ctx.torch_device))
    ctx.assert_close(out, cpu_out, what="LeNet output on the device vs the CPU")


@units.unit("models.batch.dimension_is_preserved", requires=SHAPES_ONLY)
def batch_dimension(ctx):
    """For any batch size, both networks return (batch, 10)."""
    nets = {name: (_seeded(cls).to(ctx.torch_device), ch) for name, (cls, ch) in NETS.items()}

    @ctx.given(batch=st.integers(1, 64), name=st.sampled_from(sorted(nets)))
    def prop(batch, name):
        net, channels = nets[name]
        out = net(torch.zeros(batch, channels, 32, 32, device=ctx.torch_device))
        assert out.shape == (batch, 10), f"{name} on batch {batch}: output {tuple(out.shape)}"

    with ctx.tiny_kernels():
        prop()


@units.unit("models.batch.rows_are_independent", tags=("layouts",))
def batch_invariance(ctx):
    """Row i of a batched forward equals the forward of sample i alone."""
    nets = {name: (_seeded(cls).to(ctx.torch_device).eval(), ch) for name, (cls, ch) in NETS.items()}

    @ctx.given(data=st.data(), batch=st.integers(2, 8), name=st.sampled_from(sorted(nets)))
    def prop(data, batch, name):
        net, channels = nets[name]
        # The tutorial's x.view(-1, 16 * 5 * 5) needs activations in the default memory format: an
        # input whose channels are its innermost dimension (channels_last, or a permutation to it)
        # makes the tutorial's code raise as written, so this claim is checked on the other layouts.
        x = data.draw(rst.tensors(ctx.device, shape=(batch, channels, 32, 32), min_value=-2, max_value=2,
                                  layout=("contiguous", "sliced", "expanded", "offset")))
        i = data.draw(st.integers(0, batch - 1))
        with torch.no_grad():
            ctx.assert_close(net(x)[i], net(x[i : i + 1])[0], what=f"{name} row of a batch vs alone",
                             where=f"row {i} of {batch}", rtol=1e-4, atol=1e-5)

    with ctx.tiny_kernels():
        prop()


@units.unit("models.lenet.num_flat_features_is_product", requires=SHAPES_ONLY)
def num_flat_features(ctx):
    """num_flat_features equals the product of the non-batch dimensions."""
    net = LeNet()

    @ctx.given(shape=rst.shapes(min_dims=1, max_dims=5, max_side=5))
    def prop(shape):
        x = torch.empty(shape, device=ctx.torch_device)
        assert net.num_flat_features(x) == int(np.prod(shape[1:])), f"shape {shape}"

    prop()


def _out_size(size, kernel, stride, padding, dilation):
    # The formula printed in the Conv2d / MaxPool2d docs.
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@st.composite
def conv_geometry(draw):
    kernel = draw(st.integers(1, 5))
    dilation = draw(st.integers(1, 3))
    padding = draw(st.integers(0, kernel // 2))
    stride = draw(st.integers(1, 3))
    min_size = max(1, dilation * (kernel - 1) + 1 - 2 * padding)
    size = draw(st.integers(min_size, min_size + 12))
    return {"size": size, "kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}


@units.unit("models.conv.output_shape_follows_formula", requires=SHAPES_ONLY)
def conv_shapes(ctx):
    """Conv2d and MaxPool2d output sizes follow the documented formula for any geometry."""

    @ctx.given(g=conv_geometry(), c_in=st.integers(1, 4), c_out=st.integers(1, 4))
    def prop(g, c_in, c_out):
        x = torch.zeros(1, c_in, g["size"], g["size"], device=ctx.torch_device)
        k, s, p, d = g["kernel"], g["stride"], g["padding"], g["dilation"]
        want = _out_size(g["size"], k, s, p, d)
        conv = torch.nn.Conv2d(c_in, c_out, k, stride=s, padding=p, dilation=d).to(ctx.torch_device)
        assert conv(x).shape == (1, c_out, want, want), f"Conv2d {g}: {tuple(conv(x).shape)}, formula {want}"
        pool = torch.nn.MaxPool2d(k, stride=s, padding=p, dilation=d)
        assert pool(x).shape == (1, c_in, want, want), f"MaxPool2d {g}: {tuple(pool(x).shape)}, formula {want}"

    with ctx.tiny_kernels():
        prop()


def _windows(x: np.ndarray, kernel, stride, padding, dilation, pad_value):
    """Sliding windows of an N×C×H×W array: N×C×OH×OW×K×K."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=pad_value)
    span = dilation * (kernel - 1) + 1
    win = np.lib.stride_tricks.sliding_window_view(x, (span, span), axis=(2, 3))
    return win[:, :, ::stride, ::stride, ::dilation, ::dilation]


def numpy_max_pool2d(x, kernel, stride, padding, dilation):
    return _windows(x, kernel, stride, padding, dilation, -np.inf).max(axis=(-2, -1))


def numpy_conv2d(x, weight, bias, stride, padding, dilation):
    """Cross-correlation, as torch defines conv2d: out[n,o] = Σ_c,i,j x[n,c,..] w[o,c,i,j] + b[o]."""
    win = _windows(x, weight.shape[-1], stride, padding, dilation, 0.0)
    return np.einsum("nchwij,ocij->nohw", win, weight) + bias[None, :, None, None]


@units.unit("models.pool.max_pool2d_matches_numpy", requires=FLOAT64, tags=("layouts",))
def max_pool_reference(ctx):
    """max_pool2d equals an independent numpy sliding-window maximum (float64)."""

    @ctx.given(data=st.data(), g=conv_geometry(), channels=st.integers(1, 3), batch=st.integers(1, 3))
    def prop(data, g, channels, batch):
        x = data.draw(rst.tensors(ctx.device, shape=(batch, channels, g["size"], g["size"]), dtype=torch.float64))
        args = (g["kernel"], g["stride"], g["padding"], g["dilation"])
        got = F.max_pool2d(x, g["kernel"], g["stride"], g["padding"], g["dilation"])
        ctx.assert_close(got, torch.from_numpy(numpy_max_pool2d(x.cpu().numpy(), *args)), what="max_pool2d", where=g)

    with ctx.tiny_kernels():
        prop()


@units.unit("models.conv.conv2d_matches_numpy", requires=FLOAT64, tags=("layouts",))
def conv_reference(ctx):
    """conv2d equals an independent numpy sliding-window cross-correlation (float64)."""

    @ctx.given(data=st.data(), g=conv_geometry(), c_in=st.integers(1, 3), c_out=st.integers(1, 3), batch=st.integers(1, 3))
    def prop(data, g, c_in, c_out, batch):
        k = g["kernel"]
        x = data.draw(rst.tensors(ctx.device, shape=(batch, c_in, g["size"], g["size"]), dtype=torch.float64,
                                  min_value=-3, max_value=3))
        w = data.draw(rst.tensors(ctx.device, shape=(c_out, c_in, k, k), dtype=torch.float64, min_value=-1, max_value=1))
        b = data.draw(rst.tensors(ctx.device, shape=(c_out,), dtype=torch.float64, min_value=-1, max_value=1))
        got = F.conv2d(x, w, b, stride=g["stride"], padding=g["padding"], dilation=g["dilation"])
        want = numpy_conv2d(*(t.cpu().numpy() for t in (x, w, b)), g["stride"], g["padding"], g["dilation"])
        ctx.assert_close(got, torch.from_numpy(want), what="conv2d", where=g,
                         repro=("F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)",
                                {"x": x, "w": w, "b": b, **{k: g[k] for k in ("stride", "padding", "dilation")}}))

    gen = ctx.cpu_generator(0)
    x = torch.rand(2, 3, 7, 7, generator=gen, dtype=torch.float64).to(ctx.torch_device) * 2 - 1
    w = torch.rand(4, 3, 3, 3, generator=gen, dtype=torch.float64).to(ctx.torch_device) - 0.5
    b = torch.rand(4, generator=gen, dtype=torch.float64).to(ctx.torch_device)
    with ctx.tiny_kernels():
        for how, laid in rst.each_layout(x):
            want = numpy_conv2d(*(t.cpu().numpy() for t in (laid, w, b)), 1, 1, 1)
            ctx.assert_close(F.conv2d(laid, w, b, padding=1), torch.from_numpy(want), what="conv2d, each layout", where=how,
                             repro=("F.conv2d(x, w, b, padding=1)", {"x": laid, "w": w, "b": b}))
        prop()


@units.unit("models.gradients.conv_and_linear_pass_gradcheck", requires=FLOAT64)
def gradcheck(ctx):
    """Conv2d, MaxPool2d and Linear analytic gradients match finite differences (float64 gradcheck)."""
    gen = ctx.cpu_generator(0)
    dev = ctx.torch_device

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dev).requires_grad_()

    checks = {
        "conv2d": (lambda x, w, b: F.conv2d(x, w, b, padding=1), (rand(1, 2, 6, 6), rand(3, 2, 3, 3), rand(3))),
        "max_pool2d": (lambda x: F.max_pool2d(x, 2), (rand(1, 2, 6, 6),)),
        "linear": (lambda x, w, b: F.linear(x, w, b), (rand(4, 5), rand(3, 5), rand(3))),
    }
    # Element by element, gradcheck perturbs each input at a new index: on a graph compiler every
    # one is a new graph. Fast mode checks the same Jacobians along random directions instead.
    fast = "eager" not in ctx.device.capabilities
    for name, (fn, inputs) in checks.items():
        try:
            with ctx.tiny_kernels():
                torch.autograd.gradcheck(fn, inputs, fast_mode=fast)
        except GradcheckError as exc:
            raise AssertionError(f"{name} gradients disagree with finite differences on {ctx.device.label}:\n{exc}") from None


@units.unit("models.hotpath.pool_first_equals_tutorial_path")
def pool_first(ctx):
    """Pooling before ReLU gives the tutorial path's outputs and gradients exactly; in channels_last within tolerance."""
    from hypothesis import assume

    net = _seeded(Net).to(ctx.torch_device)

    def run(pool_first, memory_format, x):
        net.to(memory_format=memory_format).zero_grad()
        out = stage_fn(net, "net", pool_first=pool_first)(x.contiguous(memory_format=memory_format))
        out.sum().backward()
        return out.detach(), [p.grad.clone() for p in net.parameters()]

    # the unit lays the input out itself (both memory formats), so it draws it contiguous
    @ctx.given(x=rst.tensors(ctx.device, shape=st.integers(1, 4).map(lambda b: (b, 3, 32, 32)), min_value=-3, max_value=3,
                             layout=None),
               seed=st.integers(0, 2**16))
    def prop(x, seed):
        ref, ref_grads = run(False, torch.contiguous_format, x)
        names = [n for n, _ in net.named_parameters()]
        # ReLU is monotone, so it commutes with max-pooling: bit for bit in the same memory format.
        got, got_grads = run(True, torch.contiguous_format, x)
        ctx.assert_close(got, ref, what="pool-first Net output", rtol=0, atol=0)
        # The gradients too, where each operation is its own kernel. A graph compiler fuses a bias
        # gradient's sum with the operations before it, and the two orders are different graphs, so
        # the sum may be reordered: there they agree to float32 rounding, and the gap is recorded.
        exact = {"rtol": 0, "atol": 0} if "eager" in ctx.device.capabilities else {}
        for name, a, b in zip(names, got_grads, ref_grads):
            ctx.assert_close(a, b, what="pool-first gradients", where=name, **exact)
            gap = float((a - b).abs().max().cpu()) if a.numel() else 0.0
            ctx.record_metric("pool_first_max_gradient_gap", max(gap, ctx.metrics.get("pool_first_max_gradient_gap", 0.0)))
        # channels_last (what `refsuite train --fast` runs) changes only the summation order. That
        # also moves tied and nearly tied pooling windows (a constant image) to a different, equally
        # valid maximum, whose gradient differs (seen with cuDNN on an H100), so this part draws
        # inputs away from any near-tie (see decision_margin).
        x = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
        assume(decision_margin(net, "net", x) > 1e-5)
        x = x.to(ctx.torch_device)
        ref, ref_grads = run(False, torch.contiguous_format, x)
        got, got_grads = run(True, torch.channels_last, x)
        ctx.assert_close(got, ref, what="channels_last pool-first Net output", rtol=1e-4, atol=1e-5)
        for name, a, b in zip(names, got_grads, ref_grads):
            ctx.assert_close(a, b, what="channels_last pool-first gradients", where=name, rtol=1e-3, atol=1e-4)

    try:
        with ctx.tiny_kernels():
            prop()
    finally:
        net.to(memory_format=torch.contiguous_format)
