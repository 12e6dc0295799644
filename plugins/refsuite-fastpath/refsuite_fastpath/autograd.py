"""One autograd wrapper for every fused kernel set: forward keeps the window winners, backward sums
over winners only. A kernel set is a module with three functions (``c_kernels``, ``triton_kernels``):

* ``forward(x, weight, bias) -> (y, which)``
* ``input_grad(x_shape, weight, gy, y, which) -> dx``
* ``weight_grad(x, gy, y, which) -> (dw, db)``

They are looked up on the module at each call, so a test can plant a fault by monkeypatching one.
"""
from __future__ import annotations

import torch
from refsuite.tutorial import hotpath


class ConvPoolReLU(torch.autograd.Function):
    """``relu(max_pool2d(conv2d(x, weight, bias), 2))`` on a fused kernel set."""

    @staticmethod
    def forward(ctx, x, weight, bias, kernels):
        x, weight, bias = x.contiguous(), weight.detach().contiguous(), bias.detach().contiguous()
        y, which = kernels.forward(x, weight, bias)
        ctx.kernels = kernels
        ctx.save_for_backward(x, weight, y, which)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, weight, y, which = ctx.saved_tensors
        gy = gy.contiguous()
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = ctx.kernels.input_grad(x.shape, weight, gy, y, which)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            dw, db = ctx.kernels.weight_grad(x, gy, y, which)
        return dx, dw, db, None


def stage_fn(net, stage: str, kernels):
    """:func:`refsuite.tutorial.hotpath.stage_fn` with each conv block on ``kernels``."""
    return hotpath.stage_fn(net, stage, block=lambda conv, x: ConvPoolReLU.apply(x, conv.weight, conv.bias, kernels))
