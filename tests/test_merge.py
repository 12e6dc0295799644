"""`refsuite merge`: records of two hosts in one table, naming the unit that fails on one only, and
a merged record that `refsuite compare` reads."""
import json
import subprocess
import sys

import pytest


def _refsuite(*argv, cwd):
    return subprocess.run([sys.executable, "-m", "refsuite", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory):
    """One real record, and a copy as another host would write it with one unit failing there."""
    work = tmp_path_factory.mktemp("merge")
    done = _refsuite("run", "-k", "tensors.seed", "--record", "a.json", cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    a = json.loads((work / "a.json").read_text())
    a["environment"]["host"] = "alpha"
    (work / "a.json").write_text(json.dumps(a))
    (work / "c.json").write_text(json.dumps({**a, "environment": {**a["environment"], "host": "gamma"}}))
    b = json.loads(json.dumps(a))
    b["environment"]["host"] = "beta"
    broken = b["results"][0]
    broken.update(outcome="failed", reason="AssertionError: the generator did not repeat")
    (work / "b.json").write_text(json.dumps(b))
    return work, broken["unit"]


def test_merge_names_the_unit_that_fails_on_one_host_only(two_hosts):
    work, unit = two_hosts
    done = _refsuite("merge", "a.json", "b.json", "-o", "all.json", cwd=work)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == ""
    header = done.stdout.splitlines()[0]
    assert "alpha/cpu" in header and "beta/cpu" in header
    assert (f"  {unit}: fails on beta/cpu only (passes on alpha/cpu): AssertionError: the generator did not repeat"
            in done.stdout.splitlines())


def test_two_green_hosts_merge_green_into_a_record_compare_reads(two_hosts):
    work, _ = two_hosts
    done = _refsuite("merge", "a.json", "c.json", "-o", "green.json", cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fails on" not in done.stdout
    merged = json.loads((work / "green.json").read_text())
    assert {r["device"] for r in merged["results"]} == {"alpha/cpu", "gamma/cpu"}
    done = _refsuite("compare", "green.json", "green.json", cwd=work)
    assert done.returncode == 0 and done.stderr == "", done.stdout + done.stderr
