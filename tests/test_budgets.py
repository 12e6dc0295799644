"""Thread and device budgets under pytest-xdist: each worker's share of the cores and its own device.

The functions take the facts (cores, worker number and count, device count) as arguments, so the
many-core, many-GPU cases run here with made-up numbers and a fake device type; one real
``pytest -n 8`` run, told it has 16 cores, checks what the workers' torch actually got.
"""
import json
import os
import subprocess
import sys

import pytest
import torch

from refsuite import UsageError
from refsuite.core import budgets
from refsuite.core.devices import CPU, Device, DeviceType

from distributions import write_distribution


class FakeAccelerator(DeviceType):
    """An accelerator type with a fixed number of devices that remembers which one was made current."""

    def __init__(self, name, count):
        super().__init__(name)
        self.count, self.selected = count, []

    def device_count(self):
        return self.count

    def select(self, index):
        self.selected.append(index)


@pytest.mark.parametrize("cores", [2, 16, 64])
@pytest.mark.parametrize("workers", [1, 2, 3, 8, 14, 16, 64, 128])
def test_each_worker_gets_an_even_share_of_the_cores_and_at_least_one(cores, workers):
    budget = budgets.plan(cores=cores, workers=workers, worker=workers - 1)
    assert budget.threads == max(1, cores // workers)
    # never more threads than cores, unless there are more workers than cores (then one each)
    assert budget.threads * workers <= max(cores, workers)
    assert f"{cores} cores, {workers} xdist workers, each {budget.threads} torch intra-op" in budget.describe()


@pytest.mark.parametrize("cores", [2, 16, 64])
def test_a_run_that_is_not_parallel_keeps_torchs_defaults(cores, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    monkeypatch.setattr(torch, "set_num_interop_threads", calls.append)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    budget = budgets.plan(cores=cores, workers=0, worker=None)
    budgets.apply(budget)
    assert budget.threads is None and calls == [] and "OMP_NUM_THREADS" not in os.environ
    assert "torch's defaults" in budget.describe()


def test_the_controller_plans_but_leaves_its_own_torch_alone(monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    budget = budgets.plan(cores=16, workers=8, worker=None)
    budgets.apply(budget)
    assert budget.threads == 2 and calls == []


@pytest.mark.parametrize("workers, worker", [(0, None), (8, 3)])
def test_threads_the_user_chose_apply_with_or_without_xdist(workers, worker, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(("intra", n)))
    monkeypatch.setattr(torch, "set_num_interop_threads", lambda n: calls.append(("inter", n)))
    monkeypatch.setenv("OMP_NUM_THREADS", "64")
    budget = budgets.plan(cores=64, workers=workers, worker=worker, threads="5")
    budgets.apply(budget)
    assert calls == [("intra", 5), ("inter", 5)]
    # processes a test starts inherit the share rather than every core
    assert os.environ["OMP_NUM_THREADS"] == "5"
    assert "(chosen)" in budget.describe()


def test_inter_op_threads_already_fixed_keep_the_intra_op_share(monkeypatch):
    def refuse(n):
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has started")

    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    monkeypatch.setattr(torch, "set_num_interop_threads", refuse)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    budgets.apply(budgets.plan(cores=16, workers=4, worker=0))
    assert calls == [4]


def test_the_environment_overrides_and_the_option_overrides_the_environment():
    env = {"REFSUITE_CORES": "64", "REFSUITE_TORCH_THREADS": "3", "REFSUITE_WORKER_DEVICES": "shared"}
    from_env = budgets.from_environment(workers=8, worker=0, env=env)
    assert (from_env.cores, from_env.threads, from_env.devices) == (64, 3, "shared")
    from_option = budgets.from_environment(workers=8, worker=0, threads="6", devices="spread", env=env)
    assert (from_option.threads, from_option.devices) == (6, "spread")
    # --torch-threads=auto asks for the even share whatever the environment says
    assert budgets.from_environment(workers=8, worker=0, threads="auto", env=env).threads == 8
    assert budgets.from_environment(workers=8, worker=0, env={"REFSUITE_CORES": "64"}).threads == 8


@pytest.mark.parametrize("env, option, message", [
    ({"REFSUITE_TORCH_THREADS": "0"}, None, r"\$REFSUITE_TORCH_THREADS must be an integer ≥ 1, got '0'"),
    ({}, "many", r"--torch-threads must be an integer ≥ 1, got 'many'"),
    ({"REFSUITE_CORES": "-2"}, None, r"\$REFSUITE_CORES must be an integer ≥ 1, got '-2'"),
    ({"REFSUITE_WORKER_DEVICES": "each"}, None, r"\$REFSUITE_WORKER_DEVICES must be one of spread, shared, got 'each'"),
])
def test_a_bad_setting_is_a_usage_error_naming_it(env, option, message):
    with pytest.raises(UsageError, match=message):
        budgets.from_environment(workers=2, worker=0, threads=option, env=env)


def test_cores_follow_the_affinity_not_the_machine(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 128)
    if hasattr(os, "process_cpu_count"):
        monkeypatch.setattr(os, "process_cpu_count", lambda: 6)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(6)), raising=False)
    assert budgets.usable_cores({}) == 6
    assert budgets.usable_cores({"REFSUITE_CORES": "16"}) == 16


@pytest.mark.parametrize("count", [1, 2, 4])
def test_worker_i_runs_on_index_i_mod_n(count):
    fake = FakeAccelerator("fake", count)
    for worker in range(8):
        budget = budgets.plan(cores=64, workers=8, worker=worker)
        chosen = budget.device_for(Device(fake))
        assert chosen.type is fake
        assert chosen.index == (worker % count if count > 1 else None), (worker, chosen)
        # the user's explicit index and the CPU stay as they are
        assert budget.device_for(Device(fake, 0)) == Device(fake, 0)
        assert budget.device_for(Device(CPU)) == Device(CPU)


@pytest.mark.parametrize("count", [1, 2, 4])
def test_devices_stay_where_they_are_when_shared_or_not_parallel(count):
    fake = FakeAccelerator("fake", count)
    assert budgets.plan(cores=16, workers=8, worker=5, devices="shared").device_for(Device(fake)) == Device(fake)
    assert budgets.plan(cores=16, workers=8, worker=None).device_for(Device(fake)) == Device(fake)
    assert budgets.plan(cores=16, workers=0, worker=None).device_for(Device(fake)) == Device(fake)


@pytest.mark.parametrize("count", [1, 2, 4])
def test_apply_makes_the_workers_device_current(count, monkeypatch):
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    monkeypatch.setattr(torch, "set_num_interop_threads", lambda n: None)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    fake = FakeAccelerator("fake", count)
    budgets.apply(budgets.plan(cores=16, workers=4, worker=3), [Device(CPU), Device(fake)])
    assert fake.selected == ([3 % count] if count > 1 else [])


def test_the_header_says_how_workers_spread_over_devices():
    four, one = FakeAccelerator("fake", 4), FakeAccelerator("solo", 1)
    line = budgets.plan(cores=16, workers=8, worker=None).describe([Device(CPU), Device(four), Device(one)])
    assert line == ("16 cores, 8 xdist workers, each 2 torch intra-op + 2 inter-op threads (16 cores // 8 workers); "
                    "worker gwN runs fake on fake:(N mod 4)")
    shared = budgets.plan(cores=16, workers=8, worker=None, devices="shared").describe([Device(four)])
    assert "every worker runs fake on its default device" in shared


def test_worker_numbers_come_from_xdist_ids():
    assert budgets.worker_number("gw0") == 0 and budgets.worker_number("gw13") == 13
    with pytest.raises(ValueError):
        budgets.worker_number("master")


PROBE = """
    import json, os
    from pathlib import Path

    import torch

    from refsuite import UnitGroup
    from refsuite.core.devices import DeviceType


    class FakeAccelerator(DeviceType):
        def device_count(self):
            return 4

        def select(self, index):
            self.selected = index


    FAKE = FakeAccelerator("hpu", description="four pretend Gaudi devices (the name: a device type torch knows)")
    units = UnitGroup()


    def probe(ctx):
        'Writes down the worker, its device and its torch threads.'
        Path(os.environ["PROBE_OUT"], f"{os.getpid()}-{ctx.tmp_path.name}.json").write_text(json.dumps({
            "worker": os.environ["PYTEST_XDIST_WORKER"], "device": ctx.device.label,
            "selected": getattr(ctx.device.type, "selected", None), "intra": torch.get_num_threads(),
            "inter": torch.get_num_interop_threads(), "omp": os.environ.get("OMP_NUM_THREADS"),
        }))


    for i in range(16):
        units.unit(f"budget.probe.n{i}")(probe)
"""


@pytest.mark.slow
def test_eight_workers_told_of_sixteen_cores_run_two_threads_each_on_their_own_device(tmp_path):
    site = write_distribution(tmp_path / "site", "budget-probe", {"budget_probe": PROBE},
                              {"refsuite.units": {"probe": "budget_probe:units"},
                               "refsuite.devices": {"hpu": "budget_probe:FAKE"}})
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "REFSUITE_CORES": "16", "PROBE_OUT": str(out)}
    for name in ("OMP_NUM_THREADS", "REFSUITE_TORCH_THREADS", "REFSUITE_WORKER_DEVICES"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "8", "-p", "no:cacheprovider", "--device=hpu",
                           "-k", "budget.probe", "-v"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert ("refsuite budget: 16 cores, 8 xdist workers, each 2 torch intra-op + 2 inter-op threads "
            "(16 cores // 8 workers); worker gwN runs hpu on hpu:(N mod 4)") in done.stdout
    assert "budget.probe.n0[hpu] " in done.stdout  # ids name the type, not a worker's index
    rows = [json.loads(p.read_text()) for p in out.iterdir()]
    assert len(rows) == 16
    for row in rows:
        index = budgets.worker_number(row["worker"]) % 4
        assert (row["intra"], row["inter"], row["omp"]) == (2, 2, "2"), row
        assert (row["device"], row["selected"]) == (f"hpu:{index}", index), row
    assert len({row["worker"] for row in rows}) > 1
