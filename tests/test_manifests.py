"""Known-failure manifests (--expect): a fault planted in torch makes the run red; a manifest listing
the failing units makes it green; with the fault gone the same manifest makes it red again, naming
the entry to delete. The fault is a real monkeypatch of torch.cumsum, applied at interpreter start
by a sitecustomize module, so every process of the run (xdist workers included) has it.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distributions import write_distribution

#: third-party units that use the faulty op, one that passes and one that is always skipped
UNITS = '''
import numpy as np
import torch
from hypothesis import strategies as st
from refsuite import Requires, UnitGroup

units = UnitGroup()


@units.unit("faulty.cumsum.matches_numpy")
def cumsum_matches_numpy(ctx):
    """torch.cumsum of drawn float64 vectors equals numpy's."""

    @ctx.given(n=st.integers(1, 6), seed=st.integers(0, 2**16))
    def prop(n, seed):
        x = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(ctx.torch_device)
        ctx.assert_close(torch.cumsum(x, 0), torch.from_numpy(np.cumsum(x.cpu().numpy())), what="cumsum",
                         where=f"n={n}", repro=("torch.cumsum(x, 0)", {"x": x}))

    prop()


@units.unit("faulty.cumsum.total_is_the_sum")
def total_is_the_sum(ctx):
    """cumsum's last element is the sum (a comparison without repro=)."""
    x = torch.arange(1.0, 5.0, dtype=torch.float64, device=ctx.torch_device)
    ctx.assert_close(torch.cumsum(x, 0)[-1], x.sum(), what="cumsum total")


@units.unit("faulty.other.passes")
def passes(ctx):
    """Passes everywhere."""
    ctx.assert_close(torch.ones(2), torch.ones(2), what="ones")


@units.unit("faulty.other.needs_future_torch", requires=Requires(min_torch="99.0"))
def needs_future_torch(ctx):
    """Skipped on every torch released today."""
'''

#: the planted fault: cumsum is off by 0.5 past two elements
FAULT = '''
import torch

_cumsum = torch.cumsum


def cumsum(input, dim, *args, **kwargs):
    out = _cumsum(input, dim, *args, **kwargs)
    return out + 0.5 if out.numel() > 2 else out


torch.cumsum = cumsum
'''

KNOWN = '''# cumsum on this backend, reviewed
[[expect]]
device = "cpu"
units = ["faulty.cumsum.*"]
outcome = "fail"
reason = "cumsum is off by 0.5 past two elements"
link = "https://example.org/issues/1"
'''


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("planted")
    write_distribution(root / "site", "refsuite-faulty", {"faulty_units": UNITS},
                       {"refsuite.units": {"faulty": "faulty_units:units"}})
    (root / "fault").mkdir()
    (root / "fault" / "sitecustomize.py").write_text(FAULT)
    (root / "known.toml").write_text(KNOWN)
    return root


def env_for(root: Path, fault: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    paths = [root / "site"] + ([root / "fault"] if fault else [])
    env["PYTHONPATH"] = os.pathsep.join(map(str, paths))
    return env


def refsuite(root: Path, *args: str, fault: bool) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "refsuite", *args], cwd=root, env=env_for(root, fault),
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def records(planted) -> dict:
    """Records of the faulty units with the fault (bad.json) and without (good.json)."""
    bad = refsuite(planted, "run", "-k", "faulty", "--record", "bad.json", fault=True)
    assert bad.returncode == 1, bad.stdout + bad.stderr  # the plain run sees the fault
    assert "FAILED faulty.cumsum.matches_numpy[cpu]" in bad.stdout
    good = refsuite(planted, "run", "-k", "faulty", "--record", "good.json", fault=False)
    assert good.returncode == 0, good.stdout + good.stderr
    return {"bad": planted / "bad.json", "good": planted / "good.json"}


@pytest.mark.slow
def test_a_manifest_of_the_known_faults_is_green_and_goes_red_once_they_are_fixed(planted, records):
    known = planted / "known.toml"
    with_fault = refsuite(planted, "run", "-k", "faulty", "--expect", str(known), fault=True)
    out = with_fault.stdout
    assert with_fault.returncode == 0, out + with_fault.stderr
    assert f"refsuite: expected failures (manifest {known}): 2" in out
    assert "xfail faulty.cumsum.matches_numpy[cpu]: AssertionError: cumsum (n=3) on cpu" in out
    assert "2 xfailed" in out and with_fault.stderr == ""

    fixed = refsuite(planted, "run", "-k", "faulty", "--expect", str(known), fault=False)
    assert fixed.returncode == 1, fixed.stdout + fixed.stderr
    assert (f"refsuite: expected but passed: delete {known}:2 (faulty.cumsum.matches_numpy[cpu], "
            "faulty.cumsum.total_is_the_sum[cpu])") in fixed.stdout
    assert f"expected to fail on cpu by {known}:2, yet it passed: the fault is gone; delete {known}:2" in fixed.stdout


@pytest.mark.slow
def test_the_same_under_pytest_with_xdist_and_junit(planted):
    base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--device=cpu", "--expect", "known.toml",
            "-k", "faulty", "-n", "2", "--junitxml", "units.xml"]
    red = subprocess.run(base, cwd=planted, env=env_for(planted, fault=False), capture_output=True, text=True,
                         timeout=300)
    assert red.returncode == 1, red.stdout + red.stderr
    assert "expected but passed: delete known.toml:2" in red.stdout

    green = subprocess.run(base, cwd=planted, env=env_for(planted, fault=True), capture_output=True, text=True,
                           timeout=300)
    assert green.returncode == 0, green.stdout + green.stderr
    assert "2 xfailed" in green.stdout
    junit = (planted / "units.xml").read_text()
    assert junit.count('type="pytest.xfail" message="expected by known.toml:2: cumsum is off by 0.5') == 2


def test_an_expected_skip_is_no_strict_failure_and_one_that_runs_is_red(planted):
    manifest = planted / "skips.toml"
    manifest.write_text('[[expect]]\ndevice = "cpu"\nunits = ["faulty.other.needs_future_torch"]\noutcome = "skip"\n'
                        'reason = "needs a torch from the future"\n\n'
                        '[[expect]]\ndevice = "cpu"\nunits = ["faulty.other.passes"]\noutcome = "skip"\n'
                        'reason = "wrongly believed to be skipped"\n')
    res = refsuite(planted, "run", "-k", "faulty.other", "--strict", "--expect", str(manifest), fault=False)
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"refsuite: expected to be skipped but ran: delete {manifest}:7 (faulty.other.passes[cpu])" in res.stdout
    assert "skipped faulty.other.needs_future_torch[cpu]: needs torch>=99.0" in res.stdout
    assert f"(expected: {manifest}:1)" in res.stdout
    assert "--strict: faulty.other.needs_future_torch" not in res.stdout

    manifest.write_text(manifest.read_text().split("\n\n")[0] + "\n")
    green = refsuite(planted, "run", "-k", "faulty.other", "--strict", "--expect", str(manifest), fault=False)
    assert green.returncode == 0, green.stdout + green.stderr


@pytest.mark.slow
def test_expect_writes_a_manifest_that_a_run_accepts_with_a_warning_for_its_todos(planted, records):
    made = refsuite(planted, "expect", str(records["bad"]), "--device", "cpu", fault=False)
    assert made.returncode == 0, made.stderr
    text = made.stdout
    assert text.count("[[expect]]") == 3 and text.count('reason = "TODO: ') == 3
    assert 'units = ["faulty.cumsum.matches_numpy"]\noutcome = "fail"' in text
    assert 'units = ["faulty.other.needs_future_torch"]\noutcome = "skip"' in text
    generated = planted / "generated.toml"
    generated.write_text(text)

    res = refsuite(planted, "run", "-k", "faulty", "--expect", str(generated), "--strict", "--record", "under.json",
                   fault=True)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [line for line in res.stdout.splitlines() if "without a reason (TODO)" in line]
    assert lines == [f"refsuite: WARNING: 3 manifest entries still without a reason (TODO): {generated}:7, "
                     f"{generated}:13, {generated}:19; say why each is expected"]
    # the record says which manifest it ran under, by path and by content
    record = json.loads((planted / "under.json").read_text())
    assert record["run"]["manifest"] == {"path": str(generated),
                                         "sha256": hashlib.sha256(generated.read_bytes()).hexdigest()}
    rows = {r["unit"]: r for r in record["results"]}
    assert rows["faulty.cumsum.matches_numpy"]["outcome"] == "xfailed"
    assert rows["faulty.cumsum.matches_numpy"]["expected"]["entry"] == f"{generated}:7"
    assert "expected" not in rows["faulty.other.passes"]
    # regenerating from a run under a reviewed manifest keeps its reasons
    again = refsuite(planted, "expect", "under.json", fault=False).stdout
    assert again.count('reason = "TODO: ') == 3  # still TODO: nobody reviewed them


@pytest.mark.slow
def test_compare_shows_what_changed_against_the_manifest(planted, records):
    good, bad, known = str(records["good"]), str(records["bad"]), str(planted / "known.toml")
    expected = refsuite(planted, "compare", good, bad, "--expect", known, fault=False)
    assert expected.returncode == 0, expected.stdout + expected.stderr
    assert "newly failing, expected (2):" in expected.stdout
    assert f"faulty.cumsum.matches_numpy[cpu]: passed -> failed, expected by {known}:2" in expected.stdout

    empty = planted / "empty.toml"
    empty.write_text("# nothing expected\n")
    unexpected = refsuite(planted, "compare", good, bad, "--expect", str(empty), fault=False)
    assert unexpected.returncode == 1
    assert "newly failing, not expected (2):" in unexpected.stdout
    assert "NEW faulty.cumsum.total_is_the_sum[cpu]: passed -> failed, not in the manifest" in unexpected.stdout

    fixed = refsuite(planted, "compare", bad, good, "--expect", known, fault=False)
    assert fixed.returncode == 1
    assert "expected failures that now pass (2):" in fixed.stdout
    assert f"faulty.cumsum.total_is_the_sum[cpu]: expected to fail by {known}:2, passes in B (fixed since A)" in fixed.stdout


def test_device_types_a_manifest_may_name():
    from refsuite.core.manifests import device_type_problem

    # a manifest is shared between machines: a real backend's type is fine without its plugin here
    assert device_type_problem("xla", {"cpu"}) is None
    assert device_type_problem("hpu", {"cpu"}) is None
    assert "not a device type" in device_type_problem("cdua", {"cpu"})
    assert "write 'cuda'" in device_type_problem("cuda:0", {"cpu"})
