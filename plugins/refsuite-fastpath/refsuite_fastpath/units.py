"""Units: each fused kernel set computes the tutorial's conv→ReLU→pool blocks, outputs and gradients."""
from __future__ import annotations

import torch
from hypothesis import assume
from hypothesis import strategies as st
from refsuite import Requires, UnitGroup
from refsuite.tutorial.hotpath import decision_margin, stage_fn
from refsuite.tutorial.training import new_net

units = UnitGroup()


def _equal_tutorial_path(ctx, kernels) -> None:
    """Outputs and gradients (weights, biases, the second block's input) of ``kernels`` against the
    tutorial's path, on inputs away from any near-tie."""
    from .autograd import stage_fn as fused_stage_fn

    nets = {"fused": new_net(0).to(ctx.torch_device), "tutorial": new_net(0).to(ctx.torch_device)}

    def run(path, stage, x):
        net = nets[path]
        net.zero_grad()
        x = x.clone().requires_grad_(stage == "conv2")
        out = (fused_stage_fn(net, stage, kernels) if path == "fused" else stage_fn(net, stage))(x)
        out.sum().backward()
        grads = {n: p.grad for n, p in net.named_parameters() if p.grad is not None}
        if x.grad is not None:
            grads["input"] = x.grad
        return out.detach(), grads

    @ctx.given(seed=st.integers(0, 2**16), batch=st.integers(1, 3), max_examples=5)
    def prop(seed, batch):
        gen = torch.Generator().manual_seed(seed)
        for stage, shape in (("net", (batch, 3, 32, 32)), ("conv2", (batch, 6, 14, 14))):
            x = torch.randn(shape, generator=gen)
            # a near-tie lets float32 rounding pick another, equally valid maximum (see decision_margin)
            assume(decision_margin(nets["tutorial"], stage, x) > 1e-5)
            x = x.to(ctx.torch_device)
            got, got_grads = run("fused", stage, x)
            want, want_grads = run("tutorial", stage, x)
            ctx.assert_close(got, want, what=f"fused {stage} output", rtol=1e-4, atol=1e-5)
            assert got_grads.keys() == want_grads.keys(), f"gradients of {sorted(got_grads)} vs {sorted(want_grads)}"
            for name in want_grads:
                ctx.assert_close(got_grads[name], want_grads[name], what=f"fused {stage} gradient of {name}",
                                 rtol=1e-3, atol=1e-4)

    prop()


def _c_kernels_unavailable(device) -> str | None:
    from . import c_kernels  # builds the library on first use

    return c_kernels.unavailable(device.type.name)


@units.unit("fastpath.c_kernels.equal_tutorial_path", requires=Requires(device_check=_c_kernels_unavailable),
            aliases=("models.hotpath.fused_cpu_equals_tutorial_path",))
def c_kernels_equal_tutorial_path(ctx):
    """The fused C conv→pool→ReLU kernels (CPU) give the tutorial path's outputs and gradients to float32 tolerance.

    Gradients of the weights, the biases and the second block's input.
    """
    from . import c_kernels

    _equal_tutorial_path(ctx, c_kernels)


def _triton_kernels_unavailable(device) -> str | None:
    from . import triton_kernels  # imports triton: only when a run asks for this unit

    return triton_kernels.unavailable(device.type.name)


@units.unit("fastpath.triton_kernels.equal_tutorial_path",
            requires=Requires(packages=("triton",), device_check=_triton_kernels_unavailable),
            aliases=("models.hotpath.fused_triton_equals_tutorial_path",))
def triton_kernels_equal_tutorial_path(ctx):
    """The fused Triton conv→pool→ReLU kernels (CUDA) give the tutorial path's outputs and gradients to float32 tolerance.

    Gradients of the weights, the biases and the second block's input.
    """
    from . import triton_kernels

    _equal_tutorial_path(ctx, triton_kernels)
