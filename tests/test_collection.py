"""The units as pytest collects them: one collector, node ids `refsuite::<unit>[<device>]` that
pytest's arguments take, counts that add up (pytest run as a user runs it, in subprocesses)."""
import collections
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from refsuite.core.discovery import discover


def run_pytest(*args: str, cwd, timeout: int = 300) -> subprocess.CompletedProcess:
    # not this run's PYTEST_* variables: an outer xdist worker's would leak into the inner run
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_collect_only_lists_every_unit_once_by_node_id(tmp_path):
    res = run_pytest("--co", "-q", "--units", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    listed = [line for line in res.stdout.splitlines() if line.startswith("refsuite::")]
    counts = collections.Counter(listed)
    assert counts and max(counts.values()) == 1
    ids = {u.id for u in discover().units}
    assert {line.removeprefix("refsuite::").removesuffix("[cpu]") for line in listed} == ids
    assert f"{len(ids)} tests collected" in res.stdout


def test_header_counts_add_up_beside_test_files(tmp_path):
    (tmp_path / "test_beside.py").write_text("def test_one():\n    pass\n")
    res = run_pytest("--device", "cpu", "-k", "tensors.seed or test_one", "test_beside.py", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    units = len(discover().units)
    collected = re.search(r"collected (\d+) items / (\d+) deselected / (\d+) selected", res.stdout)
    assert collected, res.stdout
    total, deselected, selected = map(int, collected.groups())
    assert (total, selected) == (units + 1, 3) and total == deselected + selected
    assert f"3 passed, {deselected} deselected" in res.stdout


@pytest.mark.slow
def test_a_node_id_runs_one_unit(tmp_path):
    res = run_pytest("-v", "refsuite::tensors.seed.golden[cpu]", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "collected 1 item" in res.stdout and "1 passed" in res.stdout
    assert "refsuite::tensors.seed.golden[cpu] PASSED" in res.stdout
    # without the device: the unit on every device of the run; two ids: both
    res = run_pytest("-v", "refsuite::tensors.seed.golden", "refsuite::tensors.seed.repeats[cpu]", cwd=tmp_path)
    assert res.returncode == 0 and "2 passed" in res.stdout, res.stdout + res.stderr
    # --deselect takes node ids too
    res = run_pytest("--co", "-q", "--units", "--deselect", "refsuite::tensors.seed.golden[cpu]", cwd=tmp_path)
    assert "refsuite::tensors.seed.repeats[cpu]" in res.stdout and "tensors.seed.golden" not in res.stdout


@pytest.mark.parametrize("args, message", [
    (["--device", "cpu", "refsuite::tensors.seed.nope[cpu]"], "no unit 'tensors.seed.nope'"),
    (["--device", "cpu", "refsuite::tensors.seed.golden[meta]"], "device 'meta' is not in this run (running on cpu"),
    (["--no-units", "refsuite::tensors.seed.golden[cpu]"], "--no-units, yet refsuite::tensors.seed.golden[cpu] names a unit"),
])
def test_a_node_id_that_names_nothing_is_a_usage_error(args, message, tmp_path):
    res = run_pytest(*args, cwd=tmp_path)
    assert res.returncode == pytest.ExitCode.USAGE_ERROR, res.stdout + res.stderr
    assert message in res.stderr and "passed" not in res.stdout


@pytest.mark.slow
def test_xdist_workers_collect_the_same_items_and_report_sections(tmp_path):
    junit = tmp_path / "units.xml"
    res = run_pytest("-n", "2", "--units", "-k", "tensors.seed", f"--junitxml={junit}", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 workers [2 items]" in res.stdout and "2 passed" in res.stdout
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert {(c.get("classname"), c.get("name")) for c in cases} == {
        ("tensors", "tensors.seed.golden[cpu]"), ("tensors", "tensors.seed.repeats[cpu]")}
