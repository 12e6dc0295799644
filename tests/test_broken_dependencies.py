"""Dependencies installed but unusable beside this torch. A torchvision that cannot load (an ABI
mismatch after a torch upgrade) makes the units that need it visible skips naming the cause;
everything else still runs, and nothing crashes at import. Simulated by a torchvision on the
subprocess's path that fails. A cuDNN torch refuses is reported in records, not raised."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distributions import run_refsuite
from refsuite.core.discovery import discover

CAUSE = "libtorchvision.so: undefined symbol: _ZN3c1017RegisterOperatorsD1Ev (simulated ABI mismatch)"
BROKEN = "torchvision 0.99.0 is installed but cannot be imported beside torch"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("broken-torchvision")
    (site / "torchvision").mkdir()
    (site / "torchvision" / "__init__.py").write_text(f"raise OSError({CAUSE!r})\n")
    info = site / "torchvision-0.99.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torchvision\nVersion: 0.99.0\n")
    return site


def test_units_needing_torchvision_skip_naming_the_cause_and_the_rest_passes(site, tmp_path):
    needs_tv = {u.id for u in discover().units if "torchvision" in u.requires.packages}
    record = tmp_path / "run.json"
    res = run_refsuite("run", "-k", "data or tensors.seed", "--record", str(record), site=site, cwd=tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "Traceback" not in out
    results = json.loads(record.read_text())["results"]
    skipped = {r["unit"] for r in results if r["outcome"] == "skipped"}
    ran = [r for r in results if r["unit"] not in needs_tv]
    assert skipped and skipped <= needs_tv, out
    assert {r["unit"] for r in results if r["unit"].startswith("data.")} & needs_tv <= skipped, out
    for r in results:
        if r["outcome"] == "skipped":
            assert BROKEN in r["reason"] and CAUSE in r["reason"], r
            assert f"skipped {r['unit']}[cpu]: {BROKEN}" in res.stdout  # in the summary a user reads
    assert ran and all(r["outcome"] == "passed" for r in ran), out
    env = json.loads(record.read_text())["environment"]
    assert env["torchvision"].startswith(f"unavailable: {BROKEN}") and CAUSE in env["torchvision"]


def test_doctor_reports_the_broken_torchvision(site, tmp_path):
    res = run_refsuite("doctor", site=site, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"torchvision unavailable: {BROKEN}" in res.stdout and CAUSE in res.stdout


def test_loading_a_dataset_says_torchvision_is_broken(site, tmp_path):
    res = run_refsuite("show-batch", "--out", str(tmp_path / "batch.png"), site=site, cwd=tmp_path)
    assert res.returncode not in (0, 5)
    assert BROKEN in res.stderr and CAUSE in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "batch.png").exists()


def test_the_test_suite_collects_and_skips_the_torchvision_faults(site):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    root = Path(__file__).parent.parent
    res = subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider", "-rs",
                          "tests/test_data_faults.py", "tests/test_registry.py"], capture_output=True, text=True, env=env, cwd=root, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    summary = res.stdout.strip().splitlines()[-1]
    assert "passed, 1 skipped" in summary and "error" not in summary and BROKEN in res.stdout, res.stdout


def test_a_cudnn_torch_refuses_is_reported_not_raised(monkeypatch):
    # torch raises when the cuDNN it finds is not the one it was built with: a record must still be written
    import torch

    from refsuite.core.records import environment

    def refuse():
        raise RuntimeError("cuDNN version incompatibility: PyTorch was compiled against (9, 26, 0) but found (9, 24, 0).")

    monkeypatch.setattr(torch.backends.cudnn, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.cudnn, "version", refuse)
    assert environment()["cudnn"].startswith("unavailable (cuDNN version incompatibility")
