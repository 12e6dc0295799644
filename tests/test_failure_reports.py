"""What a failing unit leaves behind: a failure trimmed to the unit's own frames that ends with the
command to rerun it, JUnit testcases classed by section with JSON properties and a bounded size,
and a record entry that says how large the error was and where."""
import json
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from distributions import run_refsuite, write_distribution
from refsuite.core.comparison_log import MAX_KINDS, OTHER, ComparisonLog, fold

FAULTY = '''
    import torch
    from hypothesis import strategies as st
    from refsuite import UnitGroup

    units = UnitGroup()

    @units.unit("tensors.faulty.doubling_is_tripling")
    def doubling(ctx):
        """Twice a tensor equals three times it (false on purpose)."""

        @ctx.given(n=st.integers(1, 5))
        def prop(n):
            x = torch.ones(n)
            ctx.assert_close(x * 2, x * 3, what="2x vs 3x", where=f"n={n}")

        prop()

    @units.unit("tensors.faulty.says_too_much")
    def says_too_much(ctx):
        """A failure whose message is far longer than any report should hold."""
        assert False, "x" * 50_000
'''


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faulty")
    site = write_distribution(tmp / "site", "refsuite-faulty", {"refsuite_faulty": FAULTY},
                              {"refsuite.units": {"faulty": "refsuite_faulty:units"}})
    junit, record = tmp / "units.xml", tmp / "record.json"
    res = run_refsuite("run", "-k", "faulty", "--junitxml", str(junit), "--record", str(record), site=site, cwd=tmp)
    assert res.returncode == 1, res.stdout + res.stderr
    return res.stdout, junit, json.loads(record.read_text()), site, tmp


def _failure(stdout: str, unit_id: str) -> str:
    """One failure's section of pytest's FAILURES block."""
    block = stdout.split("= FAILURES =", 1)[1].split("refsuite: units by section", 1)[0]
    return next(part for part in block.split("\n_") if part.lstrip("_ ").startswith(unit_id))


def test_a_failure_shows_the_units_frames_and_ends_with_its_rerun_command(failed_run):
    stdout, _, _, site, tmp = failed_run
    text = _failure(stdout, "tensors.faulty.doubling_is_tripling")
    assert "refsuite_faulty.py:" in text and 'ctx.assert_close(x * 2, x * 3, what="2x vs 3x"' in text
    assert "2x vs 3x (n=" in text and "Tensor-likes are not close!" in text
    for internal in ("_pytest", "pluggy", "hypothesis/core.py", "torch/testing", "refsuite/core/context.py"):
        assert internal not in text, f"{internal} frames in the failure:\n{text}"
    last = text.rstrip().splitlines()[-1]
    assert last == "rerun: refsuite run --device cpu -k 'tensors.faulty.doubling_is_tripling'"
    rerun = run_refsuite(*shlex.split(last.removeprefix("rerun: refsuite ")), site=site, cwd=tmp)
    assert rerun.returncode == 1 and "1 failed" in rerun.stdout, rerun.stdout[-2000:]


@pytest.mark.parametrize("how", [{"CI": "true"}, {"CI": "", "args": ["-vv"]}, {"CI": "true", "args": ["-n", "2"]}],
                         ids=["on CI", "-vv", "on CI across xdist workers"])
def test_the_short_summary_shows_a_failures_first_line_and_its_body_is_printed_once(failed_run, how):
    """pytest prints a plain-string failure whole in its short summary on CI and under -vv."""
    _, _, _, site, tmp = failed_run
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(CI=how["CI"], PYTHONPATH=os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")])))
    res = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--device=cpu",
                          "-k", "doubling", *how.get("args", [])], cwd=tmp, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 1, res.stdout + res.stderr
    summary = res.stdout.split("short test summary info", 1)[1].split("\n", 1)[1].strip().splitlines()
    assert summary[0].startswith("FAILED refsuite::tensors.faulty.doubling_is_tripling[cpu] - AssertionError: 2x vs")
    assert "failed" in summary[1] and len(summary) == 2, res.stdout[-3000:]
    assert res.stdout.count("rerun: refsuite run --device cpu -k 'tensors.faulty.doubling_is_tripling'") == 1


def test_junit_testcases_are_classed_by_section_with_json_properties_and_bounded(failed_run):
    _, junit, _, _, _ = failed_run
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == {"tensors.faulty.doubling_is_tripling[cpu]", "tensors.faulty.says_too_much[cpu]"}
    for case in cases.values():
        assert case.get("classname") == "tensors"
        assert len(ET.tostring(case)) < 10_000
        props = {p.get("name"): json.loads(p.get("value")) for p in case.iter("property")}
        assert props["refsuite"]["section"] == "tensors" and props["refsuite"]["device"] == "cpu"
    props = {p.get("name"): json.loads(p.get("value")) for p in cases["tensors.faulty.doubling_is_tripling[cpu]"].iter("property")}
    [entry] = props["refsuite_comparisons"]
    assert entry["what"] == "2x vs 3x" and entry["failed"] >= 1 and entry["max_abs_err"] == 1.0
    assert "characters cut" in cases["tensors.faulty.says_too_much[cpu]"].find("failure").text


def test_the_record_says_how_large_the_failing_error_was_and_where(failed_run):
    _, _, record, _, _ = failed_run
    rows = {r["unit"]: r for r in record["results"]}
    row = rows["tensors.faulty.doubling_is_tripling"]
    assert row["outcome"] == "failed" and row["reason"].endswith("on cpu: Tensor-likes are not close!")
    [entry] = row["comparisons"]
    assert entry["count"] == entry["failed"] and entry["max_abs_at"].startswith("n=")
    assert "; float32 (" in entry["max_abs_at"]  # the unit's where, then the result's dtype and shape


def test_comparisons_fold_by_kind_keep_where_the_largest_error_was_and_stay_bounded():
    log = ComparisonLog()
    for i, err in enumerate([0.1, 0.5, 0.2]):
        log.add("conv2d", {"max_abs_err": err, "max_rel_err": err / 10}, where=f"example {i}")
    log.add("conv2d", {"max_abs_err": float("nan"), "max_rel_err": 0.0}, where="nan matched nan")
    [entry] = log.entries()
    assert entry == {"what": "conv2d", "count": 4, "max_abs_err": 0.5, "max_rel_err": 0.05, "max_abs_at": "example 1"}
    for i in range(MAX_KINDS + 10):
        log.add(f"kind {i}", {"max_abs_err": i, "max_rel_err": 0.0}, where="w")
    entries = log.entries()
    assert len(entries) == MAX_KINDS + 1 and entries[-1]["what"] == OTHER
    assert entries[-1]["count"] == 11 and entries[-1]["max_abs_at"] == f"kind {MAX_KINDS + 9}: w"
    # a layout-1 record's one entry per comparison made
    old = [{"what": "mean", "max_abs_err": 1e-9, "max_rel_err": 0.0}] * 25 + [{"what": "std", "max_abs_err": 0.0, "max_rel_err": 0.0}]
    assert fold(old) == [{"what": "mean", "count": 25, "max_abs_err": 1e-9, "max_rel_err": 0.0},
                         {"what": "std", "count": 1, "max_abs_err": 0.0, "max_rel_err": 0.0}]


@pytest.mark.slow
def test_last_failed_reruns_the_failed_units_by_node_id(failed_run, tmp_path):
    site = failed_run[3]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(site)

    def pytest_run(*args):
        return subprocess.run([sys.executable, "-m", "pytest", "--units", "-q", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)

    first = pytest_run("-k", "faulty or tensors.seed")
    assert first.returncode == 1 and "2 failed, 2 passed" in first.stdout, first.stdout[-2000:]
    again = pytest_run("--lf")
    assert again.returncode == 1, again.stdout[-2000:]
    assert re.match(r"2 failed, \d+ deselected in ", again.stdout.strip().splitlines()[-1]), again.stdout[-2000:]


GROUPED = '''
    from hypothesis import strategies as st
    from refsuite import UnitGroup

    units = UnitGroup()

    @units.unit("tensors.grouped.two_distinct_failures")
    def two(ctx):
        """Fails in two different ways, so hypothesis reports an exception group."""

        @ctx.given(n=st.integers(0, 10))
        def first(n):
            pass

        @ctx.given(n=st.integers(0, 10))
        def second(n):
            if n % 2:
                assert n < 0, f"odd {n}"
            raise ValueError(f"even {n}")

        first()
        second()
'''


@pytest.mark.slow
def test_an_exception_group_is_summarised_and_each_example_replays_from_the_command_line(tmp_path):
    site = write_distribution(tmp_path / "site", "refsuite-grouped", {"refsuite_grouped": GROUPED},
                              {"refsuite.units": {"grouped": "refsuite_grouped:units"}})
    res = run_refsuite("run", "-k", "grouped", site=site, cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "FAILED tensors.grouped.two_distinct_failures[cpu]: 2 distinct failures: AssertionError: odd " in res.stdout
    assert "; ValueError: even " in res.stdout and "+---" not in res.stdout and "pluggy/" not in res.stdout
    assert "FAILED refsuite::tensors.grouped.two_distinct_failures[cpu] - 2 distinct fail" in res.stdout
    assert "@reproduce_failure" not in res.stdout
    replays = re.findall(r"replay this example: refsuite (.+)", res.stdout)
    assert len(replays) == 2 and all("--reproduce 2:" in r for r in replays), res.stdout[-3000:]
    for replay in replays:
        again = run_refsuite(*shlex.split(replay), site=site, cwd=tmp_path)
        assert again.returncode == 1 and "1 failed" in again.stdout, again.stdout[-2000:]
    said = {re.search(r"FAILED tensors.grouped.two_distinct_failures\[cpu\]: (\w+)", run_refsuite(
        *shlex.split(r), site=site, cwd=tmp_path).stdout)[1] for r in replays}
    assert said == {"AssertionError", "ValueError"}, said
