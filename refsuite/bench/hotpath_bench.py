"""pytest-benchmark benchmarks of the tutorial Net's conv/pool hot path.

Run through ``refsuite bench`` (or ``pytest --pyargs refsuite.bench.hotpath_bench``); never
part of the default test run. Parametrised by ``--device`` like the units, and by round
(``refsuite.bench.rounds``: each configuration is timed in several independent rounds, interleaved).
Every variant is checked against the eager NCHW reference with assert_close before it is first timed.
"""
from __future__ import annotations

import warnings

import pytest
import torch

from refsuite.bench.machine_info import bench_threads
from refsuite.bench.quick import quick
from refsuite.bench.rounds import ROUND_PARAM, rounds
from refsuite.bench.variants import LARGE_BATCH, Variant
from refsuite.core.devices import resolve_devices
from refsuite.core.discovery import discover
from refsuite.tutorial.hotpath import flops_per_image, stage_fn, stage_input_shape
from refsuite.tutorial.training import new_net

STAGES = ("conv1", "conv2", "both", "net")


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
        cases = _cases(quick())
        metafunc.parametrize("case", cases, ids=["-".join(map(str, c)) for c in cases])
    if ROUND_PARAM in metafunc.fixturenames:
        count = rounds(config)
        metafunc.parametrize(ROUND_PARAM, range(count), ids=[f"round{i + 1}" for i in range(count)])


def _cases(quick: bool) -> list[tuple]:
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
    return cases


@pytest.fixture(scope="module", autouse=True)
def fixed_threads(request):
    threads = bench_threads(request.config)
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


@pytest.fixture(scope="module")
def prepared():
    """Each configuration's checked, ready step, built in its first round and reused by the later
    ones: the correctness check and any compilation happen once, not once per round."""
    steps: dict = {}
    yield steps
    steps.clear()


def _timed(device, fn):
    def call():
        out = fn()
        device.synchronize()  # queued device work belongs to this call's time
        return out

    return call


def _round_info(bench_round: int, request) -> dict:
    return {"round": bench_round, "rounds": rounds(request.config)}


def test_ceiling_sgemm(benchmark, device, bench_round, request):
    """The compute ceiling: a large float32 matrix multiply."""
    n = 2048 if device.type.name == "cpu" else 8192
    a = torch.randn(n, n, device=device.torch)
    b = torch.randn(n, n, device=device.torch)
    benchmark.extra_info.update(kind="ceiling", ceiling="sgemm", flops=2 * n**3, device=device.label,
                                **_round_info(bench_round, request))
    benchmark.pedantic(_timed(device, lambda: a @ b), rounds=3, warmup_rounds=1)


def test_ceiling_copy(benchmark, device, bench_round, request):
    """The bandwidth ceiling: copying a large float32 tensor (bytes read + written)."""
    n = 64 * 2**20
    src = torch.empty(n, device=device.torch).fill_(1.0)
    dst = torch.empty_like(src)
    benchmark.extra_info.update(kind="ceiling", ceiling="copy", bytes=2 * 4 * n, device=device.label,
                                **_round_info(bench_round, request))
    benchmark.pedantic(_timed(device, lambda: dst.copy_(src)), rounds=5, warmup_rounds=1)


def _assert_same(got, ref, rtol, atol_of_scale, what):
    """assert_close with the absolute tolerance a fraction of the reference's largest element."""
    ref = ref.detach().float()
    atol = atol_of_scale * max(1.0, float(ref.abs().max()))
    torch.testing.assert_close(got.detach().float(), ref, rtol=rtol, atol=atol, msg=lambda m: f"{what}: {m}")


def _reference(device, stage, backward, x, input_grad):
    ref_net = new_net(0).to(device.torch)
    ref_in = x.clone().requires_grad_(input_grad and backward)
    with torch.set_grad_enabled(backward):
        ref = stage_fn(ref_net, stage)(ref_in)
    if backward:
        ref.sum().backward()
    return ref_net, ref


def _prepare(device, case) -> tuple:
    """(the variant's checked step, None), or (None, why it cannot run here); AssertionError when
    it computes something other than eager NCHW."""
    stage, mode, batch, name = case
    variant = variants()[name]
    backward = mode == "fwdbwd"
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(stage_input_shape(stage, batch), generator=gen).to(device.torch)
    # the conv1 input is data (no gradient); a lone conv2 stage needs its input's gradient
    input_grad = stage == "conv2"
    ref_net, ref = _reference(device, stage, backward, x, input_grad)
    net = new_net(0).to(device.torch)
    with variant.settings():
        # Correct before fast: output and gradients equal the eager NCHW reference.
        try:
            run = variant.build(net, stage, backward, x, input_grad)
            got = run()
        except Exception as exc:
            if name == "eager_nchw":
                raise
            # e.g. the tutorial's x.view(-1, 400) cannot view channels_last activations
            return None, f"{name} cannot run here: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
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
    return run, None


def test_hotpath(benchmark, device, case, bench_round, prepared, request):
    stage, mode, batch, name = case
    variant = variants()[name]
    reason = variant.skip_reason(device.type.name, stage, mode == "fwdbwd", batch)
    if reason:
        pytest.skip(reason)
    key = (device.label, case)
    if key not in prepared:
        prepared[key] = _prepare(device, case)
    run, reason = prepared[key]
    if bench_round == rounds(request.config) - 1:
        del prepared[key]  # its last round: free its tensors (on an accelerator, batch 8192 is 100 MB)
    if reason:
        pytest.skip(reason)
    benchmark.extra_info.update(
        kind="hotpath", stage=stage, mode=mode, batch=batch, variant=name, device=device.label,
        flops_per_image=flops_per_image(stage, mode == "fwdbwd"), float32="strict (TF32 off)",
        **_round_info(bench_round, request),
    )
    with variant.settings(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        benchmark.pedantic(_timed(device, run), rounds=3 if batch >= 256 else 10, warmup_rounds=1)
