"""The fused Triton kernels: checked on the CPU through Triton's interpreter (no GPU needed), and the
contract every call is checked against before a kernel is launched."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from packaging.version import Version

triton = pytest.importorskip("triton")
HERE = Path(__file__).parent
UNIT = "fastpath.triton_kernels.equal_tutorial_path"


@pytest.mark.skipif(Version(triton.__version__) < Version("3.6"),
                    reason="Triton 3.0's interpreter (torch 2.4) hands constexpr block sizes to tl.arange as arrays")
def test_kernels_under_the_triton_interpreter():
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    # numpy 2.5 made this deprecation an error (Triton 3.6's interpreter ran into it); be as strict on older numpy
    strict_numpy = "error:Conversion of an array with ndim > 0 to a scalar:DeprecationWarning"
    done = subprocess.run([sys.executable, "-W", strict_numpy, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", str(HERE / "interpreted")], env=env, capture_output=True, text=True,
                          cwd=HERE.parent)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "4 passed" in done.stdout, done.stdout[-2000:]


def test_unit_is_a_visible_skip_without_cuda_or_the_interpreter(unit):
    if os.environ.get("TRITON_INTERPRET") == "1":
        pytest.skip("this process interprets Triton")
    assert "run on CUDA" in unit.unmet(UNIT)


@pytest.fixture
def kernels():
    from refsuite_fastpath import triton_kernels

    return triton_kernels


def test_a_malformed_call_is_a_value_error_before_any_launch(kernels):
    x, w, b = torch.randn(2, 3, 32, 32), torch.randn(6, 3, 5, 5), torch.randn(6)
    pooled = (2, 6, 14, 14)
    gy, y, which = torch.ones(pooled), torch.ones(pooled), torch.zeros(pooled, dtype=torch.int8)
    with pytest.raises(ValueError, match="must be torch.float32"):
        kernels.forward(x.double(), w, b)
    with pytest.raises(ValueError, match="must have shape"):
        kernels.forward(x, torch.randn(6, 4, 5, 5), b)
    with pytest.raises(ValueError, match="contiguous"):
        kernels.forward(x.transpose(2, 3), w, b)
    with pytest.raises(ValueError, match="at most 1024 pooled outputs"):
        kernels.forward(torch.randn(1, 3, 70, 70), w, b)
    with pytest.raises(ValueError, match="must be torch.int8"):
        kernels.weight_grad(x, gy, y, which.int())
    with pytest.raises(ValueError, match="must have shape"):
        kernels.input_grad(x.shape, w, gy[:, :, :-1].contiguous(), y, which)
