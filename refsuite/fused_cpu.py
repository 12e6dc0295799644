"""refsuite's fused conv→max-pool→ReLU hot path on the CPU: the C kernels in ``csrc/fused_hotpath.c``.

Why our own code: on the 2-core development machine the tutorial's two stages, forward and
backward, reach about 30 % of the SGEMM ceiling through torch. Max-pooling's backward sends each
window's gradient to one of four positions, yet torch's convolution backward multiplies all four.
Here the backward sums only the (window, channel) pairs that carry gradient, and the RGB conv1 is
computed and pooled in registers (oneDNN vectorises over input channels, and there are three);
wider layers keep oneDNN's forward convolution. The C file is compiled once per machine with the
system C compiler (``cc``) and loaded with ctypes: no torch headers, so the build takes about a
second. Its OpenMP loops run on torch's own intra-op threads (see the C file).

It computes the tutorial's ``max_pool2d(relu(conv(x)), 2)`` in the exact pool-first order, with
max_pool2d's tie rule. ``models.hotpath.fused_cpu_equals_tutorial_path`` compares it with the
tutorial's path.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

from . import hotpath
from ._cache import default_cache_dir

KERNEL = 5
MAX_CHANNELS = 24  # the C kernels keep one window's C×6×6 input region on the stack
SOURCE = Path(__file__).with_name("csrc") / "fused_hotpath.c"
# -fno-trapping-math lets the compiler turn the pooling's comparisons into branch-free vector code
FLAGS = ["-O3", "-march=native", "-fno-trapping-math", "-fopenmp", "-shared", "-fPIC", "-std=c99"]


def _cpu_key() -> str:
    # -march=native code must not run on another CPU sharing this cache (a network home directory)
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        flags = platform.processor()
    return hashlib.sha256(flags.encode()).hexdigest()[:12]


def unavailable() -> str | None:
    """Why the C kernels cannot be built or loaded here (None: they can)."""
    try:
        _library()
    except subprocess.CalledProcessError as exc:
        return f"refsuite's C kernels unavailable: the compiler failed: {(exc.stderr or '').strip()[:300]}"
    except (OSError, RuntimeError) as exc:
        return f"refsuite's C kernels unavailable: {str(exc).splitlines()[0][:200]}"
    return None


@lru_cache(maxsize=None)
def _library() -> ctypes.CDLL:
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + " ".join(FLAGS).encode()).hexdigest()[:16]
    target = default_cache_dir() / "kernels" / f"fused_hotpath-{key}-{_cpu_key()}.so"
    if not target.exists():
        compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise RuntimeError("no C compiler (cc or gcc) on PATH")
        target.parent.mkdir(parents=True, exist_ok=True)
        # compile beside the target and rename: a concurrent run never loads a half-written file
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            built = Path(tmp, target.name)
            subprocess.run([compiler, *FLAGS, str(SOURCE), "-o", str(built)], check=True, capture_output=True,
                           text=True)
            os.replace(built, target)
    lib = ctypes.CDLL(str(target))
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    lib.pool_relu_forward.argtypes = [ptr, i64, i64, i64, i64, ptr, ptr]
    lib.weight_grad_regions.argtypes = [ptr, i64, i64, i64, i64, ptr, ptr, ptr, i64, i64, i64, ptr, ptr]
    lib.weight_grad_regions.restype = ctypes.c_int
    lib.cut_patches.argtypes = [ptr, i64, i64, ptr]
    lib.input_grad_regions.argtypes = [ptr, i64, i64, i64, i64, ptr, ptr, ptr, i64, i64, i64, ptr]
    lib.shift_kernels.argtypes = [ptr, i64, i64, ptr]
    lib.conv_pool_relu_forward.argtypes = [ptr, ptr, ptr, i64, i64, i64, i64, i64, ptr, ptr]
    lib.region_floats.argtypes = [i64]
    lib.region_floats.restype = i64
    return lib


def _p(t: torch.Tensor) -> int:
    return t.data_ptr()


def _check(x: torch.Tensor, weight: torch.Tensor) -> None:
    if x.device.type != "cpu" or x.dtype != torch.float32 or x.dim() != 4 or tuple(weight.shape[2:]) != (KERNEL, KERNEL):
        raise ValueError(f"fused CPU hot path: float32 NCHW CPU input and 5×5 weights, got {x.dtype} "
                         f"{tuple(x.shape)} on {x.device}, weight {tuple(weight.shape)}")
    if x.shape[1] > MAX_CHANNELS:
        raise ValueError(f"fused CPU hot path: at most {MAX_CHANNELS} input channels, got {x.shape[1]}")


#: input channels up to which the C kernel computes the convolution itself (the tutorial's RGB
#: conv1: 1.8 ms against oneDNN's 2.8 ms plus pooling at batch 256); wider layers use oneDNN
DIRECT_MAX_CHANNELS = 4


def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``relu(max_pool2d(conv2d(x, weight, bias), 2))`` and, per pooled output, which window position won."""
    _check(x, weight)
    lib = _library()
    x, weight, bias = x.contiguous(), weight.detach().contiguous(), bias.detach().contiguous()
    b, c, h, w = x.shape
    k = weight.shape[0]
    y = torch.empty(b, k, (h - KERNEL + 1) // 2, (w - KERNEL + 1) // 2)
    which = torch.empty(y.shape, dtype=torch.int32)
    if c <= DIRECT_MAX_CHANNELS and 8 <= w - KERNEL + 1 <= 32:
        lib.conv_pool_relu_forward(_p(x), _p(weight), _p(bias), b, c, h, w, k, _p(y), _p(which))
    else:
        conv = F.conv2d(x, weight, bias).contiguous()
        lib.pool_relu_forward(_p(conv), b, k, conv.shape[2], conv.shape[3], _p(y), _p(which))
    return y, which


def weight_grad(x: torch.Tensor, gy: torch.Tensor, y: torch.Tensor, which: torch.Tensor,
                k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The conv weight's and bias's gradients from the output's gradient, summed over winners only."""
    lib = _library()
    b, c, h, w = x.shape
    acc, db = torch.zeros(k, 4, lib.region_floats(c)), torch.zeros(k)
    if lib.weight_grad_regions(_p(x), b, c, h, w, _p(gy), _p(y), _p(which), k, y.shape[2], y.shape[3],
                               _p(acc), _p(db)) != 0:
        raise MemoryError("fused CPU hot path: no memory for the weight-gradient accumulators")
    dw = torch.empty(k, c, KERNEL, KERNEL)
    lib.cut_patches(_p(acc), k, c, _p(dw))
    return dw, db


def input_grad(x_shape: torch.Size, weight: torch.Tensor, gy: torch.Tensor, y: torch.Tensor,
               which: torch.Tensor) -> torch.Tensor:
    """The conv input's gradient: each window's gradient times its channel's kernel, at the winner."""
    lib = _library()
    b, c, h, w = x_shape
    k = weight.shape[0]
    shifted = torch.empty(k, 4, lib.region_floats(c))
    lib.shift_kernels(_p(weight), k, c, _p(shifted))
    dx = torch.zeros(x_shape)
    lib.input_grad_regions(_p(shifted), b, c, h, w, _p(gy), _p(y), _p(which), k, y.shape[2], y.shape[3], _p(dx))
    return dx


class ConvPoolReLU(torch.autograd.Function):
    """``relu(max_pool2d(conv2d(x, weight, bias), 2))`` on the C kernels."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        y, which = forward(x, weight, bias)
        ctx.save_for_backward(x.contiguous(), weight.detach().contiguous(), y, which)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, weight, y, which = ctx.saved_tensors
        gy = gy.contiguous()
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = input_grad(x.shape, weight, gy, y, which)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            dw, db = weight_grad(x, gy, y, which, weight.shape[0])
        return dx, dw, db


def stage_fn(net, stage: str):
    """:func:`refsuite.hotpath.stage_fn` with each conv block on these kernels."""
    return hotpath.stage_fn(net, stage, block=lambda conv, x: ConvPoolReLU.apply(x, conv.weight, conv.bias))
