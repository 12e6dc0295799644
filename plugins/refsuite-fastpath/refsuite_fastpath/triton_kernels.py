"""The fused conv→max-pool→ReLU hot path as Triton kernels (CUDA; or the CPU under
``TRITON_INTERPRET=1``, which is how the tests check it without a GPU).

Why our own code: on an H100, cuDNN runs the tutorial's float32 5×5 convolutions with 3 and 6
input channels through its legacy kernels (about 7 % of the float32 SGEMM rate at batch 8192), and
the unfused path writes every full-resolution activation to memory and reads it back.

What it computes is the tutorial's ``max_pool2d(relu(conv(x)), 2)`` in the pool-first order that
the unit ``models.hotpath.pool_first_equals_tutorial_path`` proves exact, with max-pooling's tie rule (the
first maximum in raster order). The forward kernel keeps the four convolution outputs of a pooling
window in registers and stores only the pooled value and which of the four won. The backward pass
uses that: the gradient of a window reaches only its winner, so the weight gradient sums one input
patch per pooled output instead of four. The unit ``fastpath.triton_kernels.equal_tutorial_path``
compares it with the tutorial's path.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from . import checks

KERNEL = checks.KERNEL  # the tutorial's conv layers are 5×5, stride 1, no padding; pooling is 2×2, stride 2


# Loop bounds (C, IMAGES) are constexpr: Triton's interpreter hands a kernel its integer arguments as
# one-element arrays, and up to Triton 3.6 range() turns them into ints with int(array), which numpy
# 2.5 refuses ("only 0-dimensional arrays can be converted to Python scalars"). A compiled kernel
# is then specialised per channel count (3 and 6 in the tutorial) and images per program.
@triton.jit
def _forward_kernel(x_ptr, w_ptr, b_ptr, y_ptr, which_ptr, C: tl.constexpr, H, W, K, PH, PW,
                    BLOCK_P: tl.constexpr, BLOCK_K: tl.constexpr):
    """One image (axis 0) × a block of pooled positions (axis 1) × every output channel."""
    img = tl.program_id(0)
    p = tl.program_id(1) * BLOCK_P + tl.arange(0, BLOCK_P)
    k = tl.arange(0, BLOCK_K)
    p_ok = p < PH * PW
    k_ok = k < K
    # input offset of the window's top-left convolution output's top-left tap
    corner = (2 * (p // PW)) * W + 2 * (p % PW)
    acc00 = tl.zeros((BLOCK_P, BLOCK_K), dtype=tl.float32)
    acc01 = tl.zeros((BLOCK_P, BLOCK_K), dtype=tl.float32)
    acc10 = tl.zeros((BLOCK_P, BLOCK_K), dtype=tl.float32)
    acc11 = tl.zeros((BLOCK_P, BLOCK_K), dtype=tl.float32)
    for c in range(C):
        plane = x_ptr + (img * C + c) * H * W + corner
        taps = w_ptr + k * (C * 25) + c * 25
        for kh in tl.static_range(5):
            # the four window outputs read two input rows of six values at this kernel row
            at = plane + kh * W
            u0 = tl.load(at, mask=p_ok, other=0.0)[:, None]
            u1 = tl.load(at + 1, mask=p_ok, other=0.0)[:, None]
            u2 = tl.load(at + 2, mask=p_ok, other=0.0)[:, None]
            u3 = tl.load(at + 3, mask=p_ok, other=0.0)[:, None]
            u4 = tl.load(at + 4, mask=p_ok, other=0.0)[:, None]
            u5 = tl.load(at + 5, mask=p_ok, other=0.0)[:, None]
            d0 = tl.load(at + W, mask=p_ok, other=0.0)[:, None]
            d1 = tl.load(at + W + 1, mask=p_ok, other=0.0)[:, None]
            d2 = tl.load(at + W + 2, mask=p_ok, other=0.0)[:, None]
            d3 = tl.load(at + W + 3, mask=p_ok, other=0.0)[:, None]
            d4 = tl.load(at + W + 4, mask=p_ok, other=0.0)[:, None]
            d5 = tl.load(at + W + 5, mask=p_ok, other=0.0)[:, None]
            w0 = tl.load(taps + kh * 5, mask=k_ok, other=0.0)[None, :]
            w1 = tl.load(taps + kh * 5 + 1, mask=k_ok, other=0.0)[None, :]
            w2 = tl.load(taps + kh * 5 + 2, mask=k_ok, other=0.0)[None, :]
            w3 = tl.load(taps + kh * 5 + 3, mask=k_ok, other=0.0)[None, :]
            w4 = tl.load(taps + kh * 5 + 4, mask=k_ok, other=0.0)[None, :]
            acc00 += u0 * w0 + u1 * w1 + u2 * w2 + u3 * w3 + u4 * w4
            acc01 += u1 * w0 + u2 * w1 + u3 * w2 + u4 * w3 + u5 * w4
            acc10 += d0 * w0 + d1 * w1 + d2 * w2 + d3 * w3 + d4 * w4
            acc11 += d1 * w0 + d2 * w1 + d3 * w2 + d4 * w3 + d5 * w4
    bias = tl.load(b_ptr + k, mask=k_ok, other=0.0)[None, :]
    # max_pool2d's rule: scan the window in raster order, a later value wins only if strictly greater
    best = acc00 + bias
    which = tl.zeros((BLOCK_P, BLOCK_K), dtype=tl.int32)
    v = acc01 + bias
    which = tl.where(v > best, 1, which)
    best = tl.where(v > best, v, best)
    v = acc10 + bias
    which = tl.where(v > best, 2, which)
    best = tl.where(v > best, v, best)
    v = acc11 + bias
    which = tl.where(v > best, 3, which)
    best = tl.where(v > best, v, best)
    out = (img * K + k[None, :]) * (PH * PW) + p[:, None]
    ok = p_ok[:, None] & k_ok[None, :]
    tl.store(y_ptr + out, tl.maximum(best, 0.0), mask=ok)
    tl.store(which_ptr + out, which.to(tl.int8), mask=ok)


@triton.jit
def _weight_grad_kernel(x_ptr, g_ptr, which_ptr, part_ptr, B, C: tl.constexpr, H, W, K, PH, PW, IMAGES: tl.constexpr,
                        BLOCK_P: tl.constexpr, BLOCK_K: tl.constexpr):
    """Partial weight gradient of one (input channel, kernel row) (axis 1) over a chunk of images (axis 0).

    ``g`` is the pooled output's gradient with ReLU's mask applied; each pooled output contributes
    its gradient times the input patch under the window position that won the max. For kernel row
    ``kh`` every channel's winner reads from the same two input rows of six values, so those are
    loaded once per pooled position and each channel picks its own four.
    """
    chunk = tl.program_id(0)
    c = tl.program_id(1) // 5
    kh = tl.program_id(1) % 5
    p = tl.arange(0, BLOCK_P)  # one block covers every pooled position of an image
    k = tl.arange(0, BLOCK_K)
    p_ok = p < PH * PW
    ok = p_ok[:, None] & (k < K)[None, :]
    corner = (2 * (p // PW) + kh) * W + 2 * (p % PW)
    acc0 = tl.zeros((BLOCK_P, BLOCK_K), dtype=tl.float32)
    acc1 = tl.zeros((BLOCK_P, BLOCK_K), dtype=tl.float32)
    acc2 = tl.zeros((BLOCK_P, BLOCK_K), dtype=tl.float32)
    acc3 = tl.zeros((BLOCK_P, BLOCK_K), dtype=tl.float32)
    acc4 = tl.zeros((BLOCK_P, BLOCK_K), dtype=tl.float32)
    for i in range(IMAGES):
        img = chunk * IMAGES + i
        out = (img * K + k[None, :]) * (PH * PW) + p[:, None]
        # the image test as a full block, not a scalar: Triton 3.9's interpreter refuses a mask
        # broadcast from a scalar comparison ("mask has unsupported dtype")
        live = ok & (out * 0 + img < B)
        g = tl.load(g_ptr + out, mask=live, other=0.0)
        which = tl.load(which_ptr + out, mask=live, other=0).to(tl.int32)
        top = which < 2  # the winner sits in the window's upper row ...
        left = which % 2 == 0  # ... and left column
        at = x_ptr + (img * C + c) * H * W + corner
        m = p_ok & (p * 0 + img < B)
        u0 = tl.load(at, mask=m, other=0.0)[:, None]
        u1 = tl.load(at + 1, mask=m, other=0.0)[:, None]
        u2 = tl.load(at + 2, mask=m, other=0.0)[:, None]
        u3 = tl.load(at + 3, mask=m, other=0.0)[:, None]
        u4 = tl.load(at + 4, mask=m, other=0.0)[:, None]
        u5 = tl.load(at + 5, mask=m, other=0.0)[:, None]
        d0 = tl.load(at + W, mask=m, other=0.0)[:, None]
        d1 = tl.load(at + W + 1, mask=m, other=0.0)[:, None]
        d2 = tl.load(at + W + 2, mask=m, other=0.0)[:, None]
        d3 = tl.load(at + W + 3, mask=m, other=0.0)[:, None]
        d4 = tl.load(at + W + 4, mask=m, other=0.0)[:, None]
        d5 = tl.load(at + W + 5, mask=m, other=0.0)[:, None]
        acc0 += g * tl.where(top, tl.where(left, u0, u1), tl.where(left, d0, d1))
        acc1 += g * tl.where(top, tl.where(left, u1, u2), tl.where(left, d1, d2))
        acc2 += g * tl.where(top, tl.where(left, u2, u3), tl.where(left, d2, d3))
        acc3 += g * tl.where(top, tl.where(left, u3, u4), tl.where(left, d3, d4))
        acc4 += g * tl.where(top, tl.where(left, u4, u5), tl.where(left, d4, d5))
    dst = part_ptr + chunk * (K * C * 25) + k * (C * 25) + c * 25 + kh * 5
    k_ok = k < K
    tl.store(dst, tl.sum(acc0, axis=0), mask=k_ok)
    tl.store(dst + 1, tl.sum(acc1, axis=0), mask=k_ok)
    tl.store(dst + 2, tl.sum(acc2, axis=0), mask=k_ok)
    tl.store(dst + 3, tl.sum(acc3, axis=0), mask=k_ok)
    tl.store(dst + 4, tl.sum(acc4, axis=0), mask=k_ok)


def unavailable(device_kind: str) -> str | None:
    """Why the kernels cannot run on this kind of device (None: they can)."""
    if device_kind == "cuda":
        return None
    interpreted = type(_forward_kernel).__name__ == "InterpretedFunction"  # TRITON_INTERPRET=1 at import
    if device_kind == "cpu" and interpreted:
        return None
    return f"refsuite's Triton kernels run on CUDA (or on the CPU under TRITON_INTERPRET=1), not on {device_kind}"


def _blocks(pooled: int, channels: int) -> tuple[int, int]:
    return max(16, triton.next_power_of_2(pooled)), max(2, triton.next_power_of_2(channels))


def _fits_one_block(geo: checks.Geometry) -> None:
    ph, pw = geo.pooled
    if ph * pw > 1024:  # the weight-gradient kernel holds one image's pooled outputs in one block
        raise ValueError(f"these kernels take at most 1024 pooled outputs per channel (the tutorial has 196), got {ph * pw}")


def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``relu(max_pool2d(conv2d(x, weight, bias), 2))`` and, per pooled output, which window position won."""
    geo = checks.forward_args(x, weight, bias)
    _fits_one_block(geo)
    ph, pw = geo.pooled
    y = torch.empty(geo.pooled_shape, device=x.device, dtype=x.dtype)
    which = torch.empty(geo.pooled_shape, device=x.device, dtype=checks.WINNER_DTYPE)
    block_p, block_k = _blocks(ph * pw, geo.kernels)
    block_p = min(block_p, 256)
    grid = (geo.batch, triton.cdiv(ph * pw, block_p))
    _forward_kernel[grid](x, weight, bias, y, which, geo.channels, geo.height, geo.width, geo.kernels, ph, pw,
                          BLOCK_P=block_p, BLOCK_K=block_k)
    return y, which


def _masked(gy: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.where(y > 0, gy, 0.0).contiguous()  # ReLU's mask


def input_grad(x_shape, weight: torch.Tensor, gy: torch.Tensor, y: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
    """Each window's gradient scattered to its winner, then the convolution's own input gradient."""
    geo = checks.input_grad_args(x_shape, weight, gy, y, which)
    g = _masked(gy, y)
    oh, ow = geo.height - KERNEL + 1, geo.width - KERNEL + 1
    which64 = which.long()
    rows = 2 * torch.arange(g.shape[2], device=g.device).view(-1, 1) + which64 // 2
    cols = 2 * torch.arange(g.shape[3], device=g.device).view(1, -1) + which64 % 2
    dense = F.max_unpool2d(g, rows * ow + cols, 2, output_size=(oh, ow))
    return torch.nn.grad.conv2d_input(tuple(x_shape), weight, dense)


def weight_grad(x: torch.Tensor, gy: torch.Tensor, y: torch.Tensor, which: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The conv weight's and bias's gradients, summed over window winners only."""
    geo = checks.weight_grad_args(x, gy, y, which)
    _fits_one_block(geo)
    g = _masked(gy, y)
    ph, pw = geo.pooled
    block_p, block_k = _blocks(ph * pw, geo.kernels)
    images = max(1, min(16, geo.batch // 64))  # enough programs to fill a GPU, few partial sums to add
    chunks = triton.cdiv(geo.batch, images)
    partial = torch.empty(chunks, geo.kernels, geo.channels, KERNEL, KERNEL, device=x.device, dtype=torch.float32)
    _weight_grad_kernel[(chunks, geo.channels * KERNEL)](x, g, which, partial, geo.batch, geo.channels, geo.height,
                                                         geo.width, geo.kernels, ph, pw, images,
                                                         BLOCK_P=block_p, BLOCK_K=block_k)
    return partial.sum(0), g.sum((0, 2, 3))
