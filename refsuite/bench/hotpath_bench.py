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

from refsuite.bench.variants import LARGE_BATCH, Variant
from refsuite.core.budgets import affinity_cores
from refsuite.core.devices import resolve_devices
from refsuite.core.discovery import discover
from refsuite.tutorial.hotpath import flops_per_image, stage_fn, stage_input_shape
from refsuite.tutorial.training import new_net

STAGES = ("conv1", "conv2", "both", "net")


def _quick() -> bool:
    return bool(os.environ.get("REFSUITE_BENCH_QUICK"))


def variants() -> dict[str, Variant]:
    """Every installed benchmark variant (the ``refsuite.bench_variants`` entry-point group)."""
    found = discover().variants
    wrong = [name for name, v in found.items() if not isinstance(v, Variant)]
    if wrong:
        raise TypeError(f"benchmark variants {wrong} are not refsuite.bench.variants.Variant objects")
    return found


def pytest_generate_tests(metafunc):
    config = metafunc.config
    if "device" in metafunc.fixturenames:
        devices = resolve_devices(config.getoption("device"), discover().devices,
                                      discover().broken("refsuite.devices"))
        metafunc.parametrize("device", devices, ids=[d.label for d in devices], scope="module")
    if "case" in metafunc.fixturenames:
        quick = _quick()
        cases = []
        for stage in ("both", "net") if quick else STAGES:
            for mode in ("fwd", "fwdbwd"):
                for batch in (256, LARGE_BATCH) if quick else (4, 64, 256, LARGE_BATCH):
                    for name, variant in variants().items():
                        if variant.forward_only and mode != "fwd":
                            continue
                        if variant.compile and (stage not in ("both", "net") or batch < 64):
                            continue  # compiling every small configuration would dominate the run
                        cases.append((stage, mode, batch, name))
        metafunc.parametrize("case", cases, ids=["-".join(map(str, c)) for c in cases])


@pytest.fixture(scope="module", autouse=True)
def fixed_threads():
    threads = affinity_cores()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    yield threads
    torch.set_num_threads(before)


@pytest.fixture(scope="module", autouse=True)
def strict_float32():
    """Float32 everywhere, TF32 off: GPU variants then compare exactly like the CPU ones, and the
    SGEMM ceiling is a true float32 SGEMM."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


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


def _assert_same(got, ref, rtol, atol_of_scale, what):
    """assert_close with the absolute tolerance a fraction of the reference's largest element."""
    ref = ref.detach().float()
    atol = atol_of_scale * max(1.0, float(ref.abs().max()))
    torch.testing.assert_close(got.detach().float(), ref, rtol=rtol, atol=atol, msg=lambda m: f"{what}: {m}")


def test_hotpath(benchmark, device, case):
    stage, mode, batch, name = case
    variant = variants()[name]
    backward = mode == "fwdbwd"
    reason = variant.skip_reason(device.type.name, stage, backward, batch)
    if reason:
        pytest.skip(reason)
    dev = device.torch
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(stage_input_shape(stage, batch), generator=gen).to(dev)
    # the conv1 input is data (no gradient); a lone conv2 stage needs its input's gradient
    input_grad = stage == "conv2"

    ref_net = new_net(0).to(dev)
    ref_in = x.clone().requires_grad_(input_grad and backward)
    with torch.set_grad_enabled(backward):
        ref = stage_fn(ref_net, stage)(ref_in)
    if backward:
        ref.sum().backward()

    net = new_net(0).to(dev)
    with variant.settings():
        # Correct before fast: output and gradients equal the eager NCHW reference.
        try:
            run = variant.build(net, stage, backward, x, input_grad)
            got = run()
        except Exception as exc:
            if name == "eager_nchw":
                raise
            # e.g. the tutorial's x.view(-1, 400) cannot view channels_last activations
            pytest.skip(f"{name} cannot run here: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
        _assert_same(got, ref, rtol=1e-4, atol_of_scale=1e-4, what="output")
        if backward:
            # Max-pooling's gradient is discontinuous: where a window holds two outputs equal to
            # within float32 rounding, another summation order picks the other one and moves a
            # whole input patch's worth of gradient. On an H100 (cuDNN, conv2 stage, batch 256) eager
            # NCHW's conv2.weight.grad was 2.7e-3 of its largest element away from float64, the
            # channels_last one 4e-7: no kernel was wrong. Gradients get 1e-2 of their scale.
            for (pname, p), q in zip(net.named_parameters(), ref_net.parameters()):
                if p.grad is None and q.grad is None:
                    continue  # a layer outside this stage
                _assert_same(p.grad, q.grad, rtol=1e-3, atol_of_scale=1e-2, what=f"{pname}.grad")

        benchmark.extra_info.update(
            kind="hotpath", stage=stage, mode=mode, batch=batch, variant=name, device=device.label,
            flops_per_image=flops_per_image(stage, backward), float32="strict (TF32 off)",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            benchmark.pedantic(_timed(device, run), rounds=7 if batch >= 256 else 20, warmup_rounds=2)
