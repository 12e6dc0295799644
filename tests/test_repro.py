"""Repro bundles (--repro DIR): with a fault planted in torch, each failing unit gets a folder whose
repro.py, run by a Python that cannot import refsuite, exits 1 while the fault is there and 0 once
it is gone, saying the mismatch in the unit's own words.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from distributions import write_distribution
from test_manifests import FAULT, UNITS

#: a unit that fails, but not at a comparison: its bundle can only point back at refsuite
CRASHING = '''
import torch
from refsuite import UnitGroup

units = UnitGroup()


@units.unit("crashing.cumsum.raises")
def raises(ctx):
    """Raises (no comparison) when cumsum is wrong."""
    if float(torch.cumsum(torch.ones(3), 0)[-1]) != 3.0:
        raise ValueError("cumsum of three ones is not 3")
'''

#: faults in the ops two built-in units compare, chosen by REFSUITE_TEST_FAULT
BUILTIN_FAULTS = '''
import os

import torch
import torch.nn.functional as F

_which = os.environ.get("REFSUITE_TEST_FAULT")
if _which == "conv2d":
    _conv2d = F.conv2d
    F.conv2d = lambda *args, **kwargs: _conv2d(*args, **kwargs) + 1e-3
elif _which == "mul":
    _mul = torch.mul

    def mul(a, b, **kwargs):  # named as torch's: the unit names its comparison after the op
        return _mul(a, b, **kwargs) + 1.0

    torch.mul = mul
'''


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("repro")
    write_distribution(root / "site", "refsuite-faulty", {"faulty_units": UNITS, "crashing_units": CRASHING},
                       {"refsuite.units": {"faulty": "faulty_units:units", "crashing": "crashing_units:units"}})
    for name, source in (("fault", FAULT), ("builtin_fault", BUILTIN_FAULTS)):
        (root / name).mkdir()
        (root / name / "sitecustomize.py").write_text(source)
    # first on the path of every repro.py run: proves the bundle needs no refsuite (python -I would
    # not do: the editable install is found through site-packages, which -I keeps)
    (root / "guard").mkdir()
    (root / "guard" / "refsuite.py").write_text("raise ImportError('a repro bundle must not need refsuite')\n")
    return root


def _env(*paths: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(map(str, paths))
    env.update(extra)
    return env


def repro(bundle: Path, root: Path, *fault: Path, **extra) -> subprocess.CompletedProcess:
    """``python repro.py`` where refsuite cannot be imported, with or without the fault."""
    return subprocess.run([sys.executable, str(bundle / "repro.py")], env=_env(root / "guard", *fault, **extra),
                          cwd=root, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def bundles(planted) -> Path:
    """One faulty run with --repro, under xdist (the bundles are written by the workers)."""
    run = subprocess.run([sys.executable, "-m", "refsuite", "run", "-k", "faulty or crashing", "--repro", "bundles",
                          "--record", "r.json", "--", "-n", "2"], cwd=planted, capture_output=True, text=True,
                         env=_env(planted / "site", planted / "fault"), timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"refsuite: repro bundles (3) in {planted / 'bundles'}:" in run.stdout
    return planted / "bundles"


def test_guard_hides_refsuite(planted):
    done = subprocess.run([sys.executable, "-c", "import refsuite"], env=_env(planted / "guard"), cwd=planted,
                          capture_output=True, text=True)
    assert done.returncode == 1 and "must not need refsuite" in done.stderr


def test_a_recomputing_bundle_fails_under_the_fault_and_passes_without_it(planted, bundles):
    bundle = bundles / "faulty.cumsum.matches_numpy[cpu]"
    assert sorted(p.name for p in bundle.iterdir()) == ["README.txt", "compared.pt", "facts.json", "failure.txt",
                                                        "inputs.pt", "repro.py"]
    facts = json.loads((bundle / "facts.json").read_text())
    assert facts["recomputes"] and facts["expression"] == "torch.cumsum(x, 0)"
    assert facts["rerun"] == "refsuite run --device cpu -k 'faulty.cumsum.matches_numpy'"
    assert facts["replay"] == f"{facts['rerun']} --reproduce 1:{facts['hypothesis_blob']}"
    assert facts["environment"]["torch"] == torch.__version__ and facts["device_facts"]["available"]
    # the inputs load through torch's safe loader alone
    assert set(torch.load(bundle / "inputs.pt", weights_only=True)) == {"x"}
    assert set(torch.load(bundle / "compared.pt", weights_only=True)) == {"actual", "expected"}

    faulty = repro(bundle, planted, planted / "fault")
    assert faulty.returncode == 1, faulty.stdout + faulty.stderr
    # the unit's reason line, word for word
    record = json.loads((planted / "r.json").read_text())
    row = next(r for r in record["results"] if r["unit"] == "faulty.cumsum.matches_numpy")
    assert row["reason"].startswith("AssertionError: cumsum (n=3) on cpu:")
    said = faulty.stdout.splitlines()
    assert said[1] == "AssertionError: cumsum (n=3) on cpu:" and said[2] == "Tensor-likes are not close!"
    assert "Greatest absolute difference: 0.5" in faulty.stdout
    # the record notes where each bundle is
    assert row["repro"] == {"path": str(bundle), "recomputes": True}
    assert record["run"]["repro_dir"] == str(bundles)

    fixed = repro(bundle, planted)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "the fault is gone" in fixed.stdout


def test_a_bundle_without_recomputation_says_so_and_rechecks_the_saved_values(planted, bundles):
    bundle = bundles / "faulty.cumsum.total_is_the_sum[cpu]"
    assert not (bundle / "inputs.pt").exists()
    assert "does NOT recompute anything" in (bundle / "README.txt").read_text()
    done = repro(bundle, planted)  # no fault now: the saved result still differs
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("NOTE: this bundle does NOT recompute anything")
    assert "AssertionError: cumsum total on cpu:\nScalars are not close!" in done.stdout


def test_a_failure_that_is_no_comparison_gets_a_bundle_that_points_back(planted, bundles):
    bundle = bundles / "crashing.cumsum.raises[cpu]"
    assert not (bundle / "compared.pt").exists()
    done = repro(bundle, planted)
    assert done.returncode == 2
    assert "refsuite run --device cpu -k 'crashing.cumsum.raises'" in done.stderr
    assert "ValueError: cumsum of three ones is not 3" in (bundle / "failure.txt").read_text()


@pytest.mark.parametrize("fault, unit, expression", [
    ("conv2d", "models.conv.conv2d_matches_numpy", "F.conv2d(x, w, b, padding=1)"),
    pytest.param("mul", "tensors.arithmetic.broadcast_matches_numpy", "torch.mul(a, b)", marks=pytest.mark.slow),
])
def test_built_in_units_recompute_their_op(planted, fault, unit, expression):
    out = planted / f"builtin-{fault}"
    run = subprocess.run([sys.executable, "-m", "refsuite", "run", "-k", unit, "--repro", str(out)], cwd=planted,
                         env=_env(planted / "builtin_fault", REFSUITE_TEST_FAULT=fault), capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    bundle = out / f"{unit}[cpu]"
    assert json.loads((bundle / "facts.json").read_text())["expression"] == expression
    faulty = repro(bundle, planted, planted / "builtin_fault", REFSUITE_TEST_FAULT=fault)
    assert faulty.returncode == 1, faulty.stdout + faulty.stderr
    assert repro(bundle, planted).returncode == 0
