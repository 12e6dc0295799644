"""`refsuite bench` end to end on a few configurations: the table, pytest-benchmark's JSON, and the
correctness gate that refuses to time a variant whose result differs from eager NCHW."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from refsuite import cli

FEW = ["--", "-k", "ceiling or (both and fwdbwd and (eager_nchw or cl_pool_first))"]


@pytest.fixture(autouse=True)
def outside_xdist(monkeypatch):
    # pytest-benchmark stops timing inside an xdist worker, which is where `pytest -n 2` runs this
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


@pytest.mark.slow
def test_bench_prints_the_table_and_writes_pytest_benchmark_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "--quick", "--json", str(out), *FEW]) == 0
    table = capsys.readouterr().out
    assert "ceilings: cpu sgemm" in table
    assert f"wrote {out}" in table and "Wrote benchmark data" not in table
    # the large batch is for accelerators: its skips are counted under their reason
    assert re.search(r"^ +\d+  the large batch is for accelerators$", table, re.M), table[-2000:]
    row = next(line for line in table.splitlines() if line.startswith("cpu") and "cl_pool_first" in line)
    assert row.split()[:4] == ["cpu", "both", "fwdbwd", "256"]
    data = json.loads(out.read_text())
    assert data["machine_info"]["torch"] == torch.__version__
    assert {b["extra_info"].get("variant") for b in data["benchmarks"]} >= {"eager_nchw", "cl_pool_first"}
    # every round is kept: each configuration and ceiling once per round, the rounds interleaved
    rounds = [(b["extra_info"].get("variant") or b["extra_info"]["ceiling"], b["extra_info"]["round"]) for b in data["benchmarks"]]
    assert sorted(r for name, r in rounds if name == "cl_pool_first") == [0, 1, 2, 3, 4]
    assert sorted(r for name, r in rounds if name == "sgemm") == [0, 1, 2, 3, 4]
    assert "median of 5 rounds" in table and re.search(r"cl_pool_first +[\d,]+ ±\d+%", table)
    # pytest-benchmark's own tooling reads it
    script = Path(sys.executable).with_name("pytest-benchmark")
    listed = subprocess.run([str(script), "compare", str(out)], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "cl_pool_first" in listed.stdout


def test_bench_refuses_to_time_a_variant_that_computes_something_else(monkeypatch, capsys):
    def off_in_channels_last(x, w, *args, **kwargs):
        out = F.conv2d.__wrapped__(x, w, *args, **kwargs)
        return out + 1e-2 if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last) else out

    off_in_channels_last.__wrapped__ = F.conv2d
    monkeypatch.setattr(F, "conv2d", off_in_channels_last)
    assert cli.main(["bench", "--quick", "--rounds", "1", *FEW]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "cl_pool_first" in out and "output" in out
    # without --json, no JSON is kept and none is named
    assert "refsuite-bench-" not in out and ".json" not in out
    # the variant that failed its check is not in the table
    assert not any(line.startswith("cpu") and "cl_pool_first" in line for line in out.splitlines())


def test_bench_refuses_a_device_it_cannot_synchronize(monkeypatch, capsys):
    import dataclasses

    from refsuite.core import discovery
    from refsuite.core.devices import CPU, DeviceType

    class Unwaitable(DeviceType):
        def device_count(self):
            return 1

        def synchronize_problem(self):
            return "torch.hpu has no synchronize()"

    plugins = dataclasses.replace(discovery.discover(), devices={"cpu": CPU, "hpu": Unwaitable("hpu")})
    monkeypatch.setattr(discovery, "discover", lambda: plugins)
    assert cli.main(["bench", "--quick", "--device", "hpu"]) == 4  # a usage error: nothing ran
    err = capsys.readouterr().err
    assert "cannot time hpu: torch.hpu has no synchronize(); its timings would count only the queuing of work" in err


def test_rounds_are_interleaved_across_configurations():
    from types import SimpleNamespace

    from refsuite.bench import rounds

    def item(name, r):
        return SimpleNamespace(name=name, callspec=SimpleNamespace(params={rounds.ROUND_PARAM: r}))

    items = [item(name, r) for name in ("sgemm", "eager", "pool_first") for r in range(3)]
    rounds.pytest_collection_modifyitems(items)
    assert [(i.name, i.callspec.params[rounds.ROUND_PARAM]) for i in items] == [
        (name, r) for r in range(3) for name in ("sgemm", "eager", "pool_first")]
