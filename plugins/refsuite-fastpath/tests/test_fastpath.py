"""refsuite's fused Triton kernels, checked on the CPU through Triton's interpreter (no GPU needed)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

triton = pytest.importorskip("triton")
HERE = Path(__file__).parent


@pytest.mark.skipif(Version(triton.__version__) < Version("3.6"),
                    reason="Triton 3.0's interpreter (torch 2.4) hands constexpr block sizes to tl.arange as arrays")
def test_fused_kernels_under_the_triton_interpreter():
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           str(HERE / "interpreted")], env=env, capture_output=True, text=True, cwd=HERE.parent)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "4 passed" in done.stdout, done.stdout[-2000:]


def test_fused_unit_is_a_visible_skip_without_cuda_or_the_interpreter(unit):
    if os.environ.get("TRITON_INTERPRET") == "1":
        pytest.skip("this process interprets Triton")
    assert "run on CUDA" in unit.unmet("models.hotpath.fused_triton_equals_tutorial_path")


# refsuite's C kernels (refsuite.fused_cpu) run in this process, built with the system's cc.

@pytest.fixture
def c_kernels():
    from refsuite import fused_cpu

    reason = fused_cpu.unavailable()
    if reason:
        pytest.skip(reason)


@pytest.mark.usefixtures("c_kernels")
def test_fused_cpu_path_passes_unbroken(unit):
    unit.run("models.hotpath.fused_cpu_equals_tutorial_path")


@pytest.mark.usefixtures("c_kernels")
def test_fused_cpu_weight_gradient_slightly_off(unit, monkeypatch):
    from refsuite import fused_cpu

    weight_grad = fused_cpu.weight_grad
    monkeypatch.setattr(fused_cpu, "weight_grad", lambda *a: (lambda dw, db: (dw * 1.01, db))(*weight_grad(*a)))
    assert "gradient of conv" in unit.fails("models.hotpath.fused_cpu_equals_tutorial_path")


@pytest.mark.usefixtures("c_kernels")
def test_fused_cpu_input_gradient_slightly_off(unit, monkeypatch):
    from refsuite import fused_cpu

    input_grad = fused_cpu.input_grad
    monkeypatch.setattr(fused_cpu, "input_grad", lambda *a: input_grad(*a) * 1.01)
    assert "gradient of" in unit.fails("models.hotpath.fused_cpu_equals_tutorial_path")


@pytest.mark.usefixtures("c_kernels")
def test_fused_cpu_winner_ignored(unit, monkeypatch):
    import torch

    from refsuite import fused_cpu

    forward = fused_cpu.forward
    monkeypatch.setattr(fused_cpu, "forward", lambda *a: (lambda y, w: (y, torch.zeros_like(w)))(*forward(*a)))
    unit.fails("models.hotpath.fused_cpu_equals_tutorial_path")


@pytest.mark.usefixtures("c_kernels")
@pytest.mark.parametrize("layer", ["conv1", "conv2"])  # conv1 on the direct kernel, conv2 after oneDNN
def test_fused_cpu_ties_broken_like_max_pool2d(layer):
    import torch

    from refsuite import fused_cpu
    from refsuite.tutorial.training import new_net

    conv = getattr(new_net(0), layer)
    x = torch.full((2, conv.in_channels, 32 if layer == "conv1" else 14, 32 if layer == "conv1" else 14), 0.5)
    with torch.no_grad():
        y, which = fused_cpu.forward(x, conv.weight, conv.bias)
        pooled, indices = torch.nn.functional.max_pool2d(conv(x), 2, return_indices=True)
    width = conv(x).shape[-1]
    assert torch.equal(which.long(), (indices // width % 2) * 2 + indices % 2)
    torch.testing.assert_close(y, pooled.clamp(min=0), rtol=1e-5, atol=1e-6)


def test_fused_cpu_without_a_compiler_is_a_visible_skip(unit, monkeypatch, tmp_path):
    from refsuite import fused_cpu

    monkeypatch.setenv("REFSUITE_CACHE", str(tmp_path))  # nothing built yet
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    fused_cpu._library.cache_clear()
    try:
        assert "C kernels unavailable" in unit.unmet("models.hotpath.fused_cpu_equals_tutorial_path")
    finally:
        fused_cpu._library.cache_clear()
    assert not list(tmp_path.glob("kernels/*.so")), "a failed build must leave no library behind"


def test_c_source_ships_with_the_package():
    # tox installs refsuite from its wheel: this fails there if package-data drops the C file
    from importlib.resources import files

    assert (files("refsuite") / "csrc" / "fused_hotpath.c").is_file()
