"""The refsuite command and `pytest --device`, run as a user runs them (subprocesses)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from distributions import ctrl_c_reaches_it, run_refsuite, write_distribution

THIRD_PARTY = {
    "extra_units": '''
        from refsuite import Requires, UnitGroup

        units = UnitGroup()

        @units.unit("tensors.extra.needs_future_torch", requires=Requires(min_torch="99.0"))
        def needs_future_torch(ctx):
            """A unit that cannot run on any torch released today."""
    ''',
    "broken_units": '''
        raise ImportError("this plugin is broken on purpose")
    ''',
    "dup_units": '''
        from refsuite import UnitGroup

        units = UnitGroup()

        @units.unit("tensors.seed.repeats")
        def impostor(ctx):
            """Claims a built-in id."""
    ''',
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    write_distribution(site, "refsuite-extra", {"extra_units": THIRD_PARTY["extra_units"]},
                       {"refsuite.units": {"extra": "extra_units:units"}})
    write_distribution(site, "refsuite-broken", {"broken_units": THIRD_PARTY["broken_units"]},
                       {"refsuite.units": {"broken": "broken_units:units"}})
    write_distribution(site, "refsuite-dup", {"dup_units": THIRD_PARTY["dup_units"]},
                       {"refsuite.units": {"dup": "dup_units:units"}})
    return site


@pytest.mark.skipif(torch.cuda.device_count() > 0, reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "nope", "cuda:9"])
def test_run_with_missing_device_is_a_usage_error(device, tmp_path):
    res = run_refsuite("run", "--device", device, cwd=tmp_path)
    assert res.returncode == 4, res.stdout + res.stderr
    assert "available: cpu" in res.stderr and repr(device) in res.stderr
    assert "passed" not in res.stdout


@pytest.mark.skipif(torch.cuda.device_count() > 0, reason="this machine has CUDA")
@pytest.mark.parametrize("command", ["train", "bench"])
def test_missing_device_is_the_same_usage_error_in_every_command(command, tmp_path):
    res = run_refsuite(command, "--device", "cuda", cwd=tmp_path)
    assert res.returncode == 4, res.stdout + res.stderr
    assert "device 'cuda' is not available on this machine" in res.stderr and "available: cpu" in res.stderr


def test_ctrl_c_during_a_run_exits_130_as_in_every_command(tmp_path):
    # a thorough run of the property units lasts long enough to be interrupted
    proc = subprocess.Popen([sys.executable, "-u", "-m", "refsuite", "run", "--profile", "thorough", "-k", "tensors"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            preexec_fn=ctrl_c_reaches_it)
    line = ""
    while "collected" not in line:
        line = proc.stdout.readline()
        assert line or proc.poll() is None, "the run ended before it could be interrupted"
    time.sleep(1)  # into the units: the tensors section under the thorough profile runs for about 13 s here
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.kill(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-2000:]


SWALLOWED_CTRL_C = '''
    import os
    import signal

    from hypothesis import strategies as st
    from refsuite import UnitGroup

    units = UnitGroup()


    class PressesCtrlC:
        # SIGINT handled inside __del__ (as inside hypothesis's gc callback): Python prints
        # "Exception ignored in ..." and the KeyboardInterrupt goes no further
        def __del__(self):
            signal.raise_signal(signal.SIGINT)


    @units.unit("tensors.ctrl_c.pressed_where_it_is_swallowed")
    def pressed(ctx):
        """Ctrl-C arrives in a destructor during the first example."""

        @ctx.given(x=st.integers())
        def prop(x):
            with open(os.environ["EXAMPLES_LOG"], "a") as log:
                log.write(f"{x}\\n")
            PressesCtrlC()

        prop()


    @units.unit("tensors.ctrl_c.unit_after_it")
    def after(ctx):
        """Runs only if the run went on after Ctrl-C."""
'''


@pytest.mark.parametrize("command, interrupted", [(["-m", "refsuite", "run"], 130),
                                                  (["-m", "pytest", "-p", "no:cacheprovider", "--device=cpu"], 2)])
def test_ctrl_c_that_python_swallowed_still_stops_the_run(command, interrupted, tmp_path):
    site = write_distribution(tmp_path / "site", "refsuite-ctrl-c", {"ctrl_c_units": SWALLOWED_CTRL_C},
                              {"refsuite.units": {"ctrl_c": "ctrl_c_units:units"}})
    log = tmp_path / "examples.log"
    env = {**os.environ, "EXAMPLES_LOG": str(log),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    res = subprocess.run([sys.executable, *command, "-k", "ctrl_c"], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=300, preexec_fn=ctrl_c_reaches_it)
    out = res.stdout + res.stderr
    assert "KeyboardInterrupt" in out and "Exception ignored" in out, out[-3000:]  # it was swallowed
    assert res.returncode == interrupted, out[-3000:]
    assert len(log.read_text().splitlines()) == 1, "examples ran after Ctrl-C"
    summary = [line for line in res.stdout.splitlines() if line.startswith("=")][-1]
    assert "passed" not in summary, summary  # not even the unit after it


@pytest.mark.skipif(torch.cuda.device_count() > 0, reason="this machine has CUDA")
def test_pytest_with_missing_device_is_a_usage_error(tmp_path):
    res = subprocess.run([sys.executable, "-m", "pytest", "--device=cuda", "-p", "no:cacheprovider", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == pytest.ExitCode.USAGE_ERROR, res.stdout + res.stderr
    assert "device 'cuda' is not available" in res.stderr and "available: cpu" in res.stderr


def test_list_filters_by_glob():
    res = run_refsuite("list", "tensors.seed.*")
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stdout.splitlines() if line.startswith("tensors.")]
    assert [line.split()[0] for line in lines] == ["tensors.seed.golden", "tensors.seed.repeats"]
    assert "manual_seed(1729)" in res.stdout and "requires:" in res.stdout


def test_doctor_reports_versions_devices_and_broken_plugins(site):
    res = run_refsuite("doctor", site=site)
    assert f"torch {torch.__version__}" in res.stdout
    assert "cpu    available" in res.stdout and "cuda" in res.stdout
    assert "refsuite.units:broken (refsuite-broken 1.0)" in res.stdout
    assert "this plugin is broken on purpose" in res.stdout and "Traceback" in res.stdout
    assert "duplicate unit id 'tensors.seed.repeats'" in res.stdout
    assert "refsuite.units:tensors (refsuite" in res.stdout  # named as the first provider
    assert "refsuite.units:extra (refsuite-extra 1.0)" in res.stdout
    assert res.returncode == 1  # doctor fails while a plugin is broken


@pytest.mark.slow
def test_broken_plugin_is_one_failing_item_and_hides_nothing(site, tmp_path):
    record = tmp_path / "results.json"
    res = run_refsuite("run", "-v", "--record", str(record), site=site, cwd=tmp_path)
    out = res.stdout
    assert res.returncode == 1, out + res.stderr
    assert "refsuite-plugin[refsuite.units:broken] FAILED" in out
    assert "this plugin is broken on purpose" in out
    assert "refsuite-plugin[refsuite.units:dup] FAILED" in out
    assert "tensors.seed.repeats[cpu] PASSED" in out
    assert "skipped tensors.extra.needs_future_torch[cpu]: needs torch>=99.0" in out
    results = json.loads(record.read_text())["results"]
    assert {r["unit"] for r in results} >= {"tensors.seed.repeats", "tensors.extra.needs_future_torch"}
    # every unit on the cpu: one summary per unit and kind of comparison keeps the record small
    # (about 41 KB with the numerics units' many kinds; one entry per example would be several times that)
    assert record.stat().st_size < 60_000


def test_strict_turns_skips_into_failures(site, tmp_path):
    res = run_refsuite("run", "--strict", "-k", "needs_future_torch", site=site, cwd=tmp_path)
    assert res.returncode == 1, res.stdout
    assert "strict mode counts skips as failures" in res.stdout


def test_run_selects_with_k_and_writes_junit(tmp_path):
    junit = tmp_path / "units.xml"
    res = run_refsuite("run", "-k", "seed", "--junitxml", str(junit), cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 passed" in res.stdout and "tensors" in res.stdout
    assert 'name="tensors.seed.repeats[cpu]"' in junit.read_text()


def test_run_that_selects_nothing_is_not_green(tmp_path):
    res = run_refsuite("run", "-k", "no_such_unit", cwd=tmp_path)
    assert res.returncode == pytest.ExitCode.NO_TESTS_COLLECTED


@pytest.mark.slow
def test_without_the_fastpath_plugin_nothing_is_compiled(tmp_path):
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("refsuite-fastpath")
        pytest.skip("refsuite-fastpath is installed in this environment (CI runs this test before installing it)")
    except PackageNotFoundError:
        pass
    # A PATH whose only C compiler is a tripwire that leaves a mark when anything calls it.
    tripwire = tmp_path / "bin"
    tripwire.mkdir()
    for name in ("cc", "gcc", "clang"):
        (tripwire / name).write_text(f"#!/bin/sh\ntouch {tmp_path}/compiled\nexit 1\n")
        (tripwire / name).chmod(0o755)
    # not this run's PYTEST_* variables: pytest-benchmark stops timing inside what looks like an xdist worker
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(PATH=f"{tripwire}{os.pathsep}{Path(sys.executable).parent}", REFSUITE_CACHE=str(tmp_path / "cache"))
    env.pop("CC", None)
    listed = subprocess.run([sys.executable, "-m", "refsuite", "list"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and "fastpath." not in listed.stdout
    run = subprocess.run([sys.executable, "-m", "refsuite", "run", "-k", "seed or hotpath"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "compiler" not in run.stdout and "fastpath" not in run.stdout
    bench = subprocess.run([sys.executable, "-m", "refsuite", "bench", "--quick", "--", "-k", "both and fwd and eager_nchw"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert bench.returncode == 0, bench.stdout[-3000:] + bench.stderr[-2000:]
    rows = [line.split()[:5] for line in bench.stdout.splitlines()]
    assert ["cpu", "both", "fwd", "256", "eager_nchw"] in rows, bench.stdout[-2000:]
    assert "compiler" not in bench.stdout
    doctor = subprocess.run([sys.executable, "-m", "refsuite", "doctor"], env=env, capture_output=True, text=True)
    variants = next(line for line in doctor.stdout.splitlines() if line.startswith("benchmark variants:"))
    assert "eager_nchw" in variants and "fused" not in variants
    assert not (tmp_path / "compiled").exists(), "something called the C compiler"


def test_doctor_fails_when_the_default_dataset_cannot_be_used(tmp_path):
    env = {**os.environ, "REFSUITE_SYNTHETIC_SIZE": "abc", "REFSUITE_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "refsuite", "doctor"], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "the default dataset cannot be used: REFSUITE_SYNTHETIC_SIZE='abc'" in done.stdout
