"""refsuite's fused Triton kernels, checked on the CPU through Triton's interpreter (no GPU needed)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton")
HERE = Path(__file__).parent


def test_fused_kernels_under_the_triton_interpreter():
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           str(HERE / "interpreted")], env=env, capture_output=True, text=True, cwd=HERE.parent)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "4 passed" in done.stdout, done.stdout[-2000:]


def test_fused_unit_is_a_visible_skip_without_cuda_or_the_interpreter(unit):
    if os.environ.get("TRITON_INTERPRET") == "1":
        pytest.skip("this process interprets Triton")
    assert "run on CUDA" in unit.unmet("models.hotpath.fused_equals_tutorial_path")
