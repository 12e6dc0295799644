"""`refsuite run --record` and `refsuite compare`: the drift report between two runs."""
import copy
import datetime
import json

import pytest

from distributions import run_refsuite
from refsuite.core import record_diff as drift
from refsuite.core.errors import DataError


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "a.json"
    res = run_refsuite("run", "-k", "tensors.seed or tensors.math.golden", "--record", str(path))
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(path.read_text())


def test_record_holds_outcomes_errors_timings_environment_and_settings(record):
    env = record["environment"]
    assert {"refsuite", "torch", "torchvision", "python", "devices", "dataset"} <= set(env)
    run = record["run"]
    assert record["format"] == 2 and run["hypothesis_profile"] == "ci" and run["derandomize"] is True
    assert run["max_examples"] == 25 and run["seed"] is None and run["keyword"] == "tensors.seed or tensors.math.golden"
    assert datetime.datetime.fromisoformat(run["started"]).tzinfo is not None
    rows = {r["unit"]: r for r in record["results"]}
    golden = rows["tensors.math.golden"]
    assert golden["outcome"] == "passed" and golden["device"] == "cpu" and golden["duration_s"] > 0
    whats = {c["what"] for c in golden["comparisons"]}
    assert "det(r)" in whats and all(c["max_abs_err"] < 5e-5 for c in golden["comparisons"])


def test_a_property_leaves_one_summary_per_comparison_not_one_per_example(tmp_path):
    path = tmp_path / "conv.json"
    res = run_refsuite("run", "-k", "conv2d_matches_numpy and not past_32", "--record", str(path))
    assert res.returncode == 0, res.stdout + res.stderr
    [row] = json.loads(path.read_text())["results"]
    entries = {c["what"]: c for c in row["comparisons"]}
    assert sorted(entries) == ["conv2d", "conv2d, each layout"]
    entry = entries["conv2d"]
    assert entry["count"] == 25  # the ci profile's examples
    assert entries["conv2d, each layout"]["count"] == 6  # one fixed tensor in each of the six layouts
    assert "'kernel':" in entry["max_abs_at"] and "float64 (" in entry["max_abs_at"]


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


def _write(path, record):
    path.write_text(json.dumps(record))
    return str(path)


def test_compare_warns_when_the_runs_settings_differ(record, tmp_path):
    dev = copy.deepcopy(record)
    dev["run"].update(hypothesis_profile="dev", max_examples=10, derandomize=False)
    dev["environment"]["dataset"] = "digits"
    res = run_refsuite("compare", _write(tmp_path / "a.json", record), _write(tmp_path / "b.json", dev))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "WARNING: the two runs were made under different settings" in res.stdout
    for line in ("hypothesis profile: ci -> dev", "examples per property: 25 -> 10", "derandomize: True -> False",
                 "dataset: synthetic-cifar10 -> digits"):
        assert f"  {line}\n" in res.stdout
    same = run_refsuite("compare", _write(tmp_path / "c.json", record), _write(tmp_path / "d.json", record))
    assert "WARNING" not in same.stdout


def test_compare_reads_a_layout_1_record_and_refuses_a_newer_layout(record, tmp_path):
    old = copy.deepcopy(record)
    del old["format"], old["run"]
    for row in old["results"]:  # layout 1 kept one entry per comparison made
        row["comparisons"] = [{"what": c["what"], "max_abs_err": c["max_abs_err"], "max_rel_err": c["max_rel_err"]}
                              for c in row["comparisons"] for _ in range(c["count"])]
    res = run_refsuite("compare", _write(tmp_path / "old.json", old), _write(tmp_path / "new.json", record))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "A is a layout-1 record (an older refsuite): its hypothesis profile and seed were not recorded" in res.stdout
    assert "outcome changes (0)" in res.stdout and "0 only in A, 0 only in B" in res.stdout
    loaded = drift.load_record(tmp_path / "old.json")
    golden = next(r for r in loaded["results"] if r["unit"] == "tensors.math.golden")
    assert [c["count"] for c in golden["comparisons"]] == [c["count"] for c in next(
        r for r in record["results"] if r["unit"] == "tensors.math.golden")["comparisons"]]
    future = dict(record, format=3)
    res = run_refsuite("compare", _write(tmp_path / "future.json", future), str(tmp_path / "new.json"))
    assert res.returncode == 4 and "a record of layout 3, newer than this refsuite reads" in res.stderr


def test_errors_move_only_between_comparisons_both_runs_made(record):
    crashed = copy.deepcopy(record)
    rows = {r["unit"]: r for r in crashed["results"]}
    # a unit that crashed before it compared anything: an outcome change, not an error of 0
    rows["tensors.math.golden"].update(outcome="failed", reason="RuntimeError: kernel crashed", comparisons=[])
    report, _ = drift.compare_records(record, crashed)
    assert "tensors.math.golden[cpu]: passed -> failed (RuntimeError: kernel crashed)" in report
    assert "tensors.math.golden[cpu]: max_abs_err" not in report, report
    # one kind of comparison in common: only it is paired
    partial = copy.deepcopy(record)
    golden = {r["unit"]: r for r in partial["results"]}["tensors.math.golden"]
    first = golden["comparisons"][0]
    golden["comparisons"] = [dict(first, max_abs_err=first["max_abs_err"] * 1e6 + 1e-3)]
    report, _ = drift.compare_records(record, partial)
    assert "tensors.math.golden[cpu]: max_abs_err" in report, report


def _golden(record):
    return {r["unit"]: r for r in record["results"]}["tensors.math.golden"]


def test_an_error_that_became_nan_or_inf_is_listed_and_named_in_the_verdict(record, tmp_path):
    nan = copy.deepcopy(record)
    comparisons = _golden(nan)["comparisons"]
    assert len(comparisons) > 1
    # NaN in the last kind: max() over the kinds would have kept the first kind's number
    comparisons[-1]["max_abs_err"] = float("nan")
    comparisons[0]["max_rel_err"] = float("inf")
    report, regressed = drift.compare_records(record, nan)
    assert not regressed
    assert "tensors.math.golden[cpu]: max_abs_err" in report and "-> nan (not finite)" in report, report
    assert "-> inf (not finite)" in report, report
    assert "verdict: no outcome regression; 2 errors became NaN or inf in B (listed above)" in report
    res = run_refsuite("compare", _write(tmp_path / "a.json", record), _write(tmp_path / "b.json", nan))
    assert res.returncode == 0 and "-> nan (not finite)" in res.stdout and "×nan" not in res.stdout, res.stdout
    # NaN in both runs did not change: nothing to list
    same, _ = drift.compare_records(nan, nan)
    assert "not finite" not in same and "became NaN" not in same
    back, _ = drift.compare_records(nan, record)
    assert "nan -> " in back and "became NaN" not in back


def test_inputs_too_large_or_too_deep_are_refused_by_name(tmp_path):
    from refsuite.core.records import read_json

    path = tmp_path / "big.json"
    path.write_text(json.dumps({"x": "y" * 100}))
    with pytest.raises(DataError, match=r"big.json: larger than 50 bytes, more than refsuite reads"):
        read_json(path, max_bytes=50)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 65 + "]" * 65)
    with pytest.raises(DataError, match=r"deep.json: nested deeper than 64 levels"):
        read_json(deep)
    deep.write_text("[" * 64 + "]" * 64)
    assert read_json(deep) == json.loads("[" * 64 + "]" * 64)


@pytest.mark.parametrize("field, value, message", [
    ("format", True, "'format' is true, expected a layout number"),
    ("format", "2", "'format' is \"2\", expected a layout number"),
    ("devices", "cpu", "environment.devices is \"cpu\", expected a list of device names"),
    ("devices", ["cpu", 0], "environment.devices is [\"cpu\", 0]"),
    ("torch", 2.15, "environment.torch is 2.15, expected a string"),
    ("run", [], "'run' is not an object"),
    ("started", 5, "run.started is 5, expected a time as a string"),
    ("outcome", 1, "results[0] lacks a valid outcome (a string)"),
    ("duration_s", float("inf"), "results[0] lacks a valid duration_s (a finite number of seconds ≥ 0)"),
    ("duration_s", -1, "results[0] lacks a valid duration_s"),
    ("duration_s", False, "results[0] lacks a valid duration_s"),
    ("reason", 3, "results[0] lacks a valid reason (a string)"),
    ("max_abs_err", -0.5, "results[0].comparisons[0] is malformed"),
    ("max_abs_err", True, "results[0].comparisons[0] is malformed"),
])
def test_every_field_the_report_reads_has_its_type_checked(record, tmp_path, field, value, message):
    bad = copy.deepcopy(record)
    row = next(r for r in bad["results"] if r["comparisons"])
    bad["results"] = [row]
    if field in ("format", "run"):
        bad[field] = value
    elif field == "started":
        bad["run"]["started"] = value
    elif field in ("devices", "torch"):
        bad["environment"][field] = value
    elif field == "max_abs_err":
        row["comparisons"][0][field] = value
    else:
        row[field] = value
    with pytest.raises(DataError) as caught:
        drift.load_record(_write(tmp_path / "bad.json", bad))
    assert message in str(caught.value)
