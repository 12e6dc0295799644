"""SIGTERM and SIGHUP stop a run as Ctrl-C does: the units that finished are kept in the record and
the JUnit report, marked interrupted, temporary directories are removed, and the exit code is
128 + the signal's number. The run's summary names the unit that was running (a hung one, say)."""
import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from distributions import write_distribution

HANGS = '''
    import time
    from refsuite import UnitGroup

    units = UnitGroup()

    @units.unit("tensors.zzz_hangs.forever")
    def forever(ctx):
        """Waits for a lock that never comes (a hung unit)."""
        print("hanging now", flush=True)
        time.sleep(3600)
'''


def _default_signals() -> None:
    # the child starts with these signals' default action even where the test run ignores them
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


@pytest.mark.parametrize("signum, code, name", [(signal.SIGTERM, 143, "SIGTERM"),
                                            pytest.param(signal.SIGHUP, 129, "SIGHUP", marks=pytest.mark.slow)])
def test_a_signal_keeps_what_finished_and_removes_temporary_directories(signum, code, name, tmp_path):
    site = write_distribution(tmp_path / "site", "refsuite-hangs", {"refsuite_hangs": HANGS},
                              {"refsuite.units": {"hangs": "refsuite_hangs:units"}})
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(PYTHONPATH=str(site), TMPDIR=str(private_tmp), REFSUITE_CACHE=str(tmp_path / "cache"))
    record, junit = tmp_path / "r.json", tmp_path / "j.xml"
    proc = subprocess.Popen([sys.executable, "-u", "-m", "refsuite", "run", "-k", "tensors.seed or zzz_hangs",
                             "--record", str(record), "--junitxml", str(junit), "--", "-s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
                            preexec_fn=_default_signals)
    seen = ""
    while "hanging now" not in seen:
        line = proc.stdout.readline()
        assert line, f"the run ended before the hung unit: {seen[-2000:]}{proc.stderr.read()[-2000:]}"
        seen += line
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    out = seen + out
    assert proc.returncode == code, out[-3000:] + err[-2000:]
    assert f"refsuite: interrupted ({name}) during tensors.zzz_hangs.forever[cpu]" in out, out[-3000:]
    rows = json.loads(record.read_text())
    assert rows["run"]["interrupted"] == name
    assert {r["unit"] for r in rows["results"] if r["outcome"] == "passed"} == {"tensors.seed.golden", "tensors.seed.repeats"}
    cases = {c.get("name") for c in ET.parse(junit).getroot().iter("testcase")}
    assert {"tensors.seed.golden[cpu]", "tensors.seed.repeats[cpu]"} <= cases
    assert not list(private_tmp.glob("refsuite-*")), sorted(p.name for p in private_tmp.iterdir())
    assert "Traceback" not in err, err[-2000:]


@pytest.mark.slow
def test_a_hung_unit_fails_by_name_after_its_time_limit_and_the_run_goes_on(tmp_path):
    site = write_distribution(tmp_path / "site", "refsuite-hangs", {"refsuite_hangs": HANGS},
                              {"refsuite.units": {"hangs": "refsuite_hangs:units"}})
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run([sys.executable, "-m", "refsuite", "run", "-k", "zzz_hangs or tensors.seed.golden",
                           "--unit-timeout", "2"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert ("FAILED tensors.zzz_hangs.forever[cpu]: AssertionError: tensors.zzz_hangs.forever timed out after 2 s"
            in done.stdout), done.stdout[-3000:]
    assert "1 failed, 1 passed" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "refsuite", "run", "--unit-timeout", "-1"], capture_output=True,
                         text=True, cwd=tmp_path, env=env, timeout=120)
    assert bad.returncode == 4 and "--unit-timeout '-1': expected seconds" in bad.stderr, bad.stderr
