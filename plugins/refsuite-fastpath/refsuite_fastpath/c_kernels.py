"""The fused conv→max-pool→ReLU hot path on the CPU: the C kernels in ``csrc/fused_hotpath.c``.

Why our own code: on the 2-core development machine the tutorial's two stages, forward and
backward, reach about 30 % of the SGEMM ceiling through torch. Max-pooling's backward sends each
window's gradient to one of four positions, yet torch's convolution backward multiplies all four.
Here the backward sums only the (window, channel) pairs that carry gradient, and the RGB conv1 is
computed and pooled in registers (oneDNN vectorises over input channels, and there are three);
wider layers keep oneDNN's forward convolution. The C file is compiled once per machine with the
system C compiler (``cc``) and loaded with ctypes: no torch headers, so the build takes about a
second. Its OpenMP loops run on torch's own intra-op threads (see the C file).

It computes the tutorial's ``max_pool2d(relu(conv(x)), 2)`` in the exact pool-first order, with
max_pool2d's tie rule. The unit ``fastpath.c_kernels.equal_tutorial_path`` compares it with the
tutorial's path.

The library is built into the refsuite cache (a private directory: see
:func:`refsuite.private_dir`) with a record of its SHA-256 beside it. A library whose
bytes differ from that record (a build cut short, a truncated copy) or that fails to load is
rebuilt, never loaded.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from filelock import FileLock
from refsuite import default_cache_dir, private_dir, refuse_unless_private

from . import checks

MAX_CHANNELS = 24  # the C kernels keep one window's C×6×6 input region on the stack (MAX_CHANNELS in C)
SOURCE = Path(__file__).with_name("csrc") / "fused_hotpath.c"
# -fno-trapping-math lets the compiler turn the pooling's comparisons into branch-free vector code
FLAGS = ["-O3", "-march=native", "-fno-trapping-math", "-fopenmp", "-shared", "-fPIC", "-std=c99"]
#: input channels up to which the C kernel computes the convolution itself (the tutorial's RGB
#: conv1: 1.8 ms against oneDNN's 2.8 ms plus pooling at batch 256); wider layers use oneDNN
DIRECT_MAX_CHANNELS = 4


def _cpu_key() -> str:
    # -march=native code must not run on another CPU sharing this cache (a network home directory)
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        flags = platform.processor()
    return hashlib.sha256(flags.encode()).hexdigest()[:12]


def unavailable(device_kind: str = "cpu") -> str | None:
    """Why the C kernels cannot be built or loaded here, or run on ``device_kind`` (None: they can)."""
    if device_kind != "cpu":
        return f"refsuite's C kernels run on the CPU, not on {device_kind}"
    try:
        _library()
    except subprocess.CalledProcessError as exc:
        return f"refsuite's C kernels unavailable: the compiler failed: {(exc.stderr or '').strip()[:300]}"
    except Exception as exc:  # no compiler, a refused cache, a library that will not load
        return f"refsuite's C kernels unavailable: {str(exc).splitlines()[0][:200]}"
    return None


def library_path() -> Path:
    """Where this machine's build of the C source lives in the cache."""
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode()).hexdigest()[:16]
    return default_cache_dir() / "kernels" / f"fused_hotpath-{key}-{_cpu_key()}.so"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def _intact(target: Path) -> bool:
    """The library exists, is ours, and has exactly the bytes its build recorded."""
    try:
        refuse_unless_private(target)
        built = json.loads(_record(target).read_text())
        return built["sha256"] == _digest(target)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _build(target: Path) -> None:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler (cc or gcc) on PATH")
    # compile beside the target and rename: a concurrent reader never sees a half-written file
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        built = Path(tmp, target.name)
        subprocess.run([compiler, *FLAGS, str(SOURCE), "-o", str(built)], check=True, capture_output=True, text=True)
        os.chmod(built, 0o700)  # whatever the umask: code we load is writable by us alone
        record = Path(tmp, "record.json")
        record.write_text(json.dumps({"sha256": _digest(built), "compiler": compiler, "flags": FLAGS}))
        os.replace(built, target)
        os.replace(record, _record(target))


@lru_cache(maxsize=None)
def _library() -> ctypes.CDLL:
    target = library_path()
    private_dir(target.parent)
    with FileLock(str(target) + ".lock"):
        if not _intact(target):
            _build(target)
        try:
            lib = ctypes.CDLL(str(target))
        except OSError:  # e.g. built against a libgomp that has since gone: build again, once
            _build(target)
            lib = ctypes.CDLL(str(target))
    i64, ptr, i32 = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    lib.pool_relu_forward.argtypes = [ptr, i64, i64, i64, i64, ptr, ptr]
    lib.weight_grad_regions.argtypes = [ptr, i64, i64, i64, i64, ptr, ptr, ptr, i64, i64, i64, ptr, ptr]
    lib.weight_grad_regions.restype = i32
    lib.cut_patches.argtypes = [ptr, i64, i64, ptr]
    lib.input_grad_regions.argtypes = [ptr, i64, i64, i64, i64, ptr, ptr, ptr, i64, i64, i64, ptr]
    lib.input_grad_regions.restype = i32
    lib.shift_kernels.argtypes = [ptr, i64, i64, ptr]
    lib.conv_pool_relu_forward.argtypes = [ptr, ptr, ptr, i64, i64, i64, i64, i64, ptr, ptr]
    lib.region_floats.argtypes = [i64]
    lib.region_floats.restype = i64
    return lib


def _p(t: torch.Tensor) -> int:
    return t.data_ptr()


def _on_cpu(t) -> None:
    if isinstance(t, torch.Tensor) and t.device.type != "cpu":
        raise ValueError(f"refsuite's C kernels run on the CPU; got a tensor on {t.device}")


def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``relu(max_pool2d(conv2d(x, weight, bias), 2))`` and, per pooled output, which window position won."""
    _on_cpu(x)
    geo = checks.forward_args(x, weight, bias, max_channels=MAX_CHANNELS)
    lib = _library()
    y = torch.empty(geo.pooled_shape)
    which = torch.empty(geo.pooled_shape, dtype=checks.WINNER_DTYPE)
    if geo.channels <= DIRECT_MAX_CHANNELS and 8 <= geo.width - checks.KERNEL + 1 <= 32:
        lib.conv_pool_relu_forward(_p(x), _p(weight), _p(bias), geo.batch, geo.channels, geo.height, geo.width,
                                   geo.kernels, _p(y), _p(which))
    else:
        conv = F.conv2d(x, weight, bias).contiguous()
        lib.pool_relu_forward(_p(conv), geo.batch, geo.kernels, conv.shape[2], conv.shape[3], _p(y), _p(which))
    return y, which


def weight_grad(x: torch.Tensor, gy: torch.Tensor, y: torch.Tensor,
                which: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The conv weight's and bias's gradients from the output's gradient, summed over winners only."""
    _on_cpu(x)
    geo = checks.weight_grad_args(x, gy, y, which, max_channels=MAX_CHANNELS)
    lib = _library()
    acc, db = torch.zeros(geo.kernels, 4, lib.region_floats(geo.channels)), torch.zeros(geo.kernels)
    status = lib.weight_grad_regions(_p(x), geo.batch, geo.channels, geo.height, geo.width, _p(gy), _p(y),
                                     _p(which), geo.kernels, *geo.pooled, _p(acc), _p(db))
    if status == -1:
        raise MemoryError("refsuite's C kernels: no memory for the weight-gradient accumulators")
    if status != 0:
        raise ValueError(f"refsuite's C kernels refused {geo.channels} input channels")
    dw = torch.empty(geo.kernels, geo.channels, checks.KERNEL, checks.KERNEL)
    lib.cut_patches(_p(acc), geo.kernels, geo.channels, _p(dw))
    return dw, db


def input_grad(x_shape, weight: torch.Tensor, gy: torch.Tensor, y: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
    """The conv input's gradient: each window's gradient times its channel's kernel, at the winner."""
    _on_cpu(y)
    geo = checks.input_grad_args(x_shape, weight, gy, y, which, max_channels=MAX_CHANNELS)
    lib = _library()
    shifted = torch.empty(geo.kernels, 4, lib.region_floats(geo.channels))
    lib.shift_kernels(_p(weight), geo.kernels, geo.channels, _p(shifted))
    dx = torch.zeros(geo.batch, geo.channels, geo.height, geo.width)
    if lib.input_grad_regions(_p(shifted), geo.batch, geo.channels, geo.height, geo.width, _p(gy), _p(y),
                              _p(which), geo.kernels, *geo.pooled, _p(dx)) != 0:
        raise ValueError(f"refsuite's C kernels refused {geo.channels} input channels")
    return dx
