"""pytest-benchmark benchmarks of the tutorial Net's conv/pool hot path.

Run through ``refsuite bench`` (or ``pytest --pyargs refsuite.bench.hotpath_bench``); never
part of the default test run. Parametrised by ``--device`` like the units. Every variant is
checked against the eager NCHW reference with assert_close before it is timed.
"""
from __future__ import annotations

import os
import warnings

import pytest
import torch

from refsuite._devices import resolve_devices
from refsuite._discovery import discover
from refsuite.hotpath import flops_per_image, stage_fn, stage_input_shape
from refsuite.training import new_net

STAGES = ("conv1", "conv2", "both", "net")
VARIANTS = ("eager_nchw", "channels_last", "pool_first", "cl_pool_first", "compile", "inference_mode")


def _quick() -> bool:
    return bool(os.environ.get("REFSUITE_BENCH_QUICK"))


def pytest_generate_tests(metafunc):
    config = metafunc.config
    if "device" in metafunc.fixturenames:
        devices = resolve_devices(config.getoption("device"), discover().devices)
        metafunc.parametrize("device", devices, ids=[d.label for d in devices], scope="module")
    if "case" in metafunc.fixturenames:
        quick = _quick()
        cases = []
        for stage in ("both", "net") if quick else STAGES:
            for mode in ("fwd", "fwdbwd"):
                for batch in (256,) if quick else (4, 64, 256, 1024):
                    for variant in VARIANTS:
                        if variant == "inference_mode" and mode != "fwd":
                            continue
                        if variant == "compile" and (stage not in ("both", "net") or batch < 64):
                            continue  # compiling every small configuration would dominate the run
                        cases.append((stage, mode, batch, variant))
        metafunc.parametrize("case", cases, ids=["-".join(map(str, c)) for c in cases])


@pytest.fixture(scope="module", autouse=True)
def fixed_threads():
    threads = os.cpu_count() or 1
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    yield threads
    torch.set_num_threads(before)


def _timed(device, fn):
    def call():
        out = fn()
        device.synchronize()  # queued device work belongs to this call's time
        return out

    return call


def test_ceiling_sgemm(benchmark, device):
    """The compute ceiling: a large float32 matrix multiply."""
    n = 2048 if device.type.name == "cpu" else 8192
    a = torch.randn(n, n, device=device.torch)
    b = torch.randn(n, n, device=device.torch)
    benchmark.extra_info.update(kind="ceiling", ceiling="sgemm", flops=2 * n**3, device=device.label)
    benchmark.pedantic(_timed(device, lambda: a @ b), rounds=10, warmup_rounds=2)


def test_ceiling_copy(benchmark, device):
    """The bandwidth ceiling: copying a large float32 tensor (bytes read + written)."""
    n = 64 * 2**20
    src = torch.empty(n, device=device.torch).fill_(1.0)
    dst = torch.empty_like(src)
    benchmark.extra_info.update(kind="ceiling", ceiling="copy", bytes=2 * 4 * n, device=device.label)
    benchmark.pedantic(_timed(device, lambda: dst.copy_(src)), rounds=10, warmup_rounds=2)


def _variant(net, stage, variant):
    """The callable for one variant and how to prepare its input."""
    fmt = torch.channels_last if variant in ("channels_last", "cl_pool_first") else torch.contiguous_format
    fn = stage_fn(net, stage, pool_first=variant in ("pool_first", "cl_pool_first"))
    if variant == "compile":
        fn = torch.compile(fn)
    return fn, fmt


def test_hotpath(benchmark, device, case):
    stage, mode, batch, variant = case
    if batch > 256 and device.type.name == "cpu":
        pytest.skip("the large batch is for accelerators")
    backward = mode == "fwdbwd"
    dev = device.torch
    net = new_net(0).to(dev)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(stage_input_shape(stage, batch), generator=gen).to(dev)
    ref_net = new_net(0).to(dev)
    ref_fn = stage_fn(ref_net, stage)

    if variant in ("channels_last", "cl_pool_first"):
        net = net.to(memory_format=torch.channels_last)
    try:
        fn, fmt = _variant(net, stage, variant)
    except Exception as exc:  # torch.compile unsupported here
        pytest.skip(f"{variant} unavailable: {type(exc).__name__}: {exc}")
    xin = x.contiguous(memory_format=fmt) if x.dim() == 4 else x
    needs_input_grad = stage != "conv1" and stage not in ("both", "net")

    def step(inp):
        if not backward:
            if variant == "inference_mode":
                with torch.inference_mode():
                    return fn(inp)
            with torch.no_grad():
                return fn(inp)
        for p in net.parameters():
            p.grad = None
        inp = inp.requires_grad_(needs_input_grad) if needs_input_grad else inp
        out = fn(inp)
        out.sum().backward()
        return out

    # Correct before fast: output and gradients equal the eager NCHW reference.
    try:
        got = step(xin.clone())
    except Exception as exc:
        if variant == "eager_nchw":
            raise
        # e.g. the tutorial's x.view(-1, 400) cannot view channels_last activations
        pytest.skip(f"{variant} cannot run the tutorial's code here: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    ref_in = x.clone().requires_grad_(needs_input_grad and backward)
    ref = ref_fn(ref_in)
    if backward:
        ref.sum().backward()
    torch.testing.assert_close(got.detach().float(), ref.detach().float(), rtol=1e-4, atol=1e-4)
    if backward:
        for (name, p), q in zip(net.named_parameters(), ref_net.parameters()):
            if q.grad is not None:
                torch.testing.assert_close(p.grad, q.grad, rtol=1e-3, atol=1e-4, msg=lambda m: f"{name}: {m}")

    benchmark.extra_info.update(
        kind="hotpath", stage=stage, mode=mode, batch=batch, variant=variant, device=device.label,
        flops_per_image=flops_per_image(stage, backward),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        benchmark.pedantic(_timed(device, lambda: step(xin)), rounds=7 if batch >= 256 else 20, warmup_rounds=2)
