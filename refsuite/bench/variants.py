"""The ways ``refsuite bench`` runs the same hot-path computation, each built into a ready-to-time step.

A variant changes how the tutorial's arithmetic is executed (memory layout, operation order where
that is exact, compilation, cuDNN algorithm choice, CUDA graph replay), never what it computes:
the benchmark compares every variant's output and gradients with eager NCHW before timing it.

Variants are plugins: each provider in the ``refsuite.bench_variants`` entry-point group exports an
iterable of :class:`Variant`. The torch variants below register there like any third party's
(refsuite-fastpath adds its fused kernels the same way).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import torch

from refsuite.tutorial.hotpath import stage_fn

#: the batch that shows accelerator throughput; CPUs skip it
LARGE_BATCH = 8192


@dataclass(frozen=True)
class Variant:
    name: str
    doc: str
    channels_last: bool = False
    pool_first: bool = False
    compile: bool = False
    forward_only: bool = False
    autotune: bool = False  # torch.backends.cudnn.benchmark: time cuDNN's algorithms, keep the fastest
    cuda_graph: bool = False  # capture the whole step once, then replay it
    #: builds the stage callable instead of the tutorial's path: ``stage(net, stage_name, device_kind)``
    stage: Callable | None = None
    #: why the variant cannot run on a device kind (None: it can), e.g. kernels that are not built there
    unavailable: Callable[[str], str | None] | None = None

    def skip_reason(self, device_kind: str, stage: str, backward: bool, batch: int) -> str | None:
        """Why this variant does not run this configuration here (None: it runs)."""
        accelerator = device_kind != "cpu"
        if batch > 256 and not accelerator:
            return "the large batch is for accelerators"
        if (self.autotune or self.cuda_graph) and device_kind != "cuda":
            return f"{self.name} needs cuDNN / CUDA graphs; device is {device_kind}"
        if self.compile and accelerator and batch != LARGE_BATCH:
            return f"torch.compile runs only at batch {LARGE_BATCH} on accelerators, to bound compile time"
        if self.unavailable is not None:
            return self.unavailable(device_kind)
        return None

    @contextlib.contextmanager
    def settings(self):
        before = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = self.autotune
        try:
            yield
        finally:
            torch.backends.cudnn.benchmark = before

    def build(self, net, stage: str, backward: bool, x: torch.Tensor, input_grad: bool) -> Callable[[], torch.Tensor]:
        """One step of this variant on a copy of ``x``, ready to call repeatedly.

        ``net`` is moved to channels_last here when the variant asks for it; after a fwd+bwd step its
        parameters' ``.grad`` hold this step's gradients (and ``x.grad`` when ``input_grad``).
        """
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        if self.channels_last:
            net.to(memory_format=torch.channels_last)
        if self.stage is not None:
            fn = self.stage(net, stage, x.device.type)
        else:
            fn = stage_fn(net, stage, pool_first=self.pool_first)
        if self.compile:
            fn = torch.compile(fn)
        x = x.detach().clone(memory_format=fmt).requires_grad_(input_grad and backward)
        params = list(net.parameters())

        def step() -> torch.Tensor:
            if not backward:
                with torch.inference_mode() if self.forward_only else torch.no_grad():
                    return fn(x)
            for p in params:
                p.grad = None
            x.grad = None
            out = fn(x)
            out.sum().backward()
            return out

        return _graphed(step, params, x) if self.cuda_graph else step


def _graphed(step: Callable[[], torch.Tensor], params, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    """Capture ``step`` (forward and backward) in a CUDA graph; the returned callable replays it.

    The documented whole-network capture: warm up on a side stream (this also runs cuDNN's
    autotuning outside the capture), drop the gradients so the captured backward allocates them in
    the graph's pool, then every replay rewrites the same output and gradient tensors.
    """
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    for p in params:
        p.grad = None
    x.grad = None
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = step()

    def replay() -> torch.Tensor:
        graph.replay()
        return out

    return replay


#: The torch variants, registered as ``torch`` in the ``refsuite.bench_variants`` group.
TORCH_VARIANTS = (
    Variant("eager_nchw", "exactly as the tutorial writes it"),
    Variant("channels_last", "the same modules, channels_last weights and input", channels_last=True),
    Variant("pool_first", "ReLU after max-pooling (exact, proven by a unit)", pool_first=True),
    Variant("cl_pool_first", "channels_last and pool-first", channels_last=True, pool_first=True),
    Variant("compile", "torch.compile of the tutorial's path", compile=True),
    Variant("inference_mode", "forward under inference_mode", forward_only=True),
    Variant("autotune", "the tutorial's path with cuDNN autotuning (cudnn.benchmark)", autotune=True),
    Variant("cl_autotune", "channels_last, pool-first, cuDNN autotuning", channels_last=True, pool_first=True,
            autotune=True),
    Variant("cuda_graph", "pool-first, autotuned, replayed as one CUDA graph", pool_first=True, autotune=True,
            cuda_graph=True),
    Variant("cl_cuda_graph", "channels_last, pool-first, autotuned, one CUDA graph", channels_last=True,
            pool_first=True, autotune=True, cuda_graph=True),
)
