"""Benchmark variants for ``refsuite bench``, registered under the ``refsuite.bench_variants`` entry point."""
from __future__ import annotations

from refsuite.bench.variants import Variant


def _kernels_for(device_kind: str):
    if device_kind == "cpu":
        from . import c_kernels

        return c_kernels
    from . import triton_kernels

    return triton_kernels


def _unavailable(device_kind: str) -> str | None:
    if device_kind == "cpu":
        from . import c_kernels

        return c_kernels.unavailable()
    if device_kind == "cuda":
        try:
            from . import triton_kernels
        except ImportError as exc:
            return f"refsuite-fastpath's Triton kernels need triton: {exc}"
        return triton_kernels.unavailable(device_kind)
    return f"refsuite-fastpath's kernels exist for cpu (C) and cuda (Triton), not {device_kind}"


def _fused_stage(net, stage: str, device_kind: str):
    from .autograd import stage_fn

    return stage_fn(net, stage, _kernels_for(device_kind))


VARIANTS = (
    Variant("fused", "refsuite-fastpath's fused conv→pool→ReLU kernels: C on cpu, Triton on cuda", pool_first=True,
            stage=_fused_stage, unavailable=_unavailable),
    Variant("fused_cuda_graph", "the fused kernels, replayed as one CUDA graph", pool_first=True, cuda_graph=True,
            stage=_fused_stage, unavailable=_unavailable),
)
