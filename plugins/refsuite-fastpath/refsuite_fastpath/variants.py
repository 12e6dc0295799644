"""Benchmark variants for ``refsuite bench``, registered under the ``refsuite.bench_variants`` entry point."""
from __future__ import annotations

import importlib

from refsuite.bench.variants import Variant


#: the kernel set for each device kind: the one place the variants dispatch by device
_KERNELS = {"cpu": "c_kernels", "cuda": "triton_kernels"}


def _kernels_for(device_kind: str):
    """The kernel module for ``device_kind``; LookupError where there is none, ImportError where its
    toolchain (Triton) is missing."""
    module = _KERNELS.get(device_kind)
    if module is None:
        raise LookupError(f"refsuite-fastpath's kernels exist for cpu (C) and cuda (Triton), not {device_kind}")
    return importlib.import_module(f".{module}", __package__)


def _unavailable(device_kind: str) -> str | None:
    try:
        kernels = _kernels_for(device_kind)
    except LookupError as exc:
        return str(exc)
    except ImportError as exc:
        return f"refsuite-fastpath's {_KERNELS[device_kind]} for {device_kind} cannot be imported: {exc}"
    return kernels.unavailable(device_kind)


def _fused_stage(net, stage: str, device_kind: str):
    from .autograd import stage_fn

    return stage_fn(net, stage, _kernels_for(device_kind))


VARIANTS = (
    Variant("fused", "refsuite-fastpath's fused conv→pool→ReLU kernels: C on cpu, Triton on cuda", pool_first=True,
            stage=_fused_stage, unavailable=_unavailable),
    Variant("fused_cuda_graph", "the fused kernels, replayed as one CUDA graph", pool_first=True, cuda_graph=True,
            stage=_fused_stage, unavailable=_unavailable),
)
