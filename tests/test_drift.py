"""`refsuite run --record` and `refsuite compare`: the drift report between two runs."""
import copy
import json

import pytest

from distributions import run_refsuite
from refsuite.core import compare as drift


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "a.json"
    res = run_refsuite("run", "-k", "tensors.seed or tensors.math.golden", "--record", str(path))
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(path.read_text())


def test_record_holds_outcomes_errors_timings_and_environment(record):
    env = record["environment"]
    assert {"torch", "torchvision", "python", "devices", "dataset"} <= set(env)
    rows = {r["unit"]: r for r in record["results"]}
    golden = rows["tensors.math.golden"]
    assert golden["outcome"] == "passed" and golden["device"] == "cpu" and golden["duration_s"] > 0
    whats = {c["what"] for c in golden["comparisons"]}
    assert "det(r)" in whats and all(c["max_abs_err"] < 5e-5 for c in golden["comparisons"])


def test_identical_runs_show_no_drift(record):
    report, regressed = drift.compare_records(record, record)
    assert not regressed and "outcome changes (0)" in report and "no outcome regression" in report


def test_outcome_regression_moved_errors_and_missing_units_are_reported(record, tmp_path):
    newer = copy.deepcopy(record)
    rows = {r["unit"]: r for r in newer["results"]}
    rows["tensors.seed.repeats"].update(outcome="failed", reason="manual_seed(0) did not repeat")
    for c in rows["tensors.math.golden"]["comparisons"]:
        c["max_abs_err"] = c["max_abs_err"] * 1000 + 1e-6
    newer["results"] = [r for r in newer["results"] if r["unit"] != "tensors.seed.golden"]
    newer["environment"]["torch"] = "9.9.9"
    report, regressed = drift.compare_records(record, newer)
    assert regressed
    assert "REGRESSION tensors.seed.repeats[cpu]: passed -> failed (manual_seed(0) did not repeat)" in report
    assert "tensors.math.golden[cpu]: max_abs_err" in report
    assert "only A: tensors.seed.golden[cpu]" in report and "B: torch 9.9.9" in report
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(record))
    b.write_text(json.dumps(newer))
    res = run_refsuite("compare", str(a), str(b))
    assert res.returncode == 1 and "REGRESSION" in res.stdout
    assert run_refsuite("compare", str(a), str(a)).returncode == 0


def test_compare_rejects_files_that_are_not_records(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    res = run_refsuite("compare", str(bad), str(bad))
    assert res.returncode == 4 and "not a refsuite record" in res.stderr


def test_a_renamed_unit_pairs_with_its_old_id(record):
    old = copy.deepcopy(record)
    for row in old["results"]:
        if row["unit"] == "tensors.seed.golden":
            row["unit"] = "tensors.seed.golden_before_the_rename"
    aliases = {"tensors.seed.golden_before_the_rename": "tensors.seed.golden"}
    report, regressed = drift.compare_records(old, record, aliases=aliases)
    assert "0 only in A, 0 only in B" in report and not regressed
    assert "paired under its new id: tensors.seed.golden_before_the_rename -> tensors.seed.golden" in report
    unpaired, _ = drift.compare_records(old, record)
    assert "1 only in A, 1 only in B" in unpaired
