"""Each distributed unit turns red under torchrun when the torch behaviour it checks is broken in
every rank; a hung collective is stopped and named. Run where this plugin is installed:
``python -m pytest plugins/refsuite-distributed/tests`` (each case is one torchrun launch of 2 ranks)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def launch(tmp_path, *args, fault=None, nproc=2, timeout=300):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    env.pop("REFSUITE_PLANTED_FAULT", None)
    if fault:
        env["REFSUITE_PLANTED_FAULT"] = fault
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "refsuite", "run", *args, "--", "-p", "planted_faults"]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=timeout)


def test_green_under_torchrun_and_rank_0_alone_reports(tmp_path):
    res = launch(tmp_path, "-k", "distributed", "--record", str(tmp_path / "r.json"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("units by section") == 1, res.stdout  # ranks other than 0 print nothing
    assert "8 passed, 1 skipped" in res.stdout and "2 ranks (gloo" in res.stdout, res.stdout


@pytest.mark.parametrize("fault, unit, said", [
    ("all_reduce_averages", "distributed.all_reduce.sum_matches_a_single_process_sum", "all_reduce sum"),
    ("all_reduce_avg_sums", "distributed.all_reduce.avg_matches_a_single_process_mean", "all_reduce avg"),
    ("all_reduce_max_is_min", "distributed.all_reduce.max_matches_a_single_process_max", "all_reduce max"),
    ("broadcast_from_rank_0", "distributed.broadcast.copies_each_root_to_every_rank", "from rank 1"),
    ("reduce_scatter_reversed", "distributed.reduce_scatter.gives_each_rank_its_reduced_share", "reduce_scatter sum"),
    ("all_gather_reversed", "distributed.all_gather.returns_tensors_in_rank_order", "it holds rank 1's tensor"),
    ("ddp_sums_gradients", "distributed.ddp.matches_single_process_training_on_the_whole_batch", "DDP gradient"),
    ("sampler_same_share", "distributed.sampler.splits_every_epoch_among_the_ranks", "more than one rank"),
    ("gloo_defects_unlisted", "distributed.layouts.views_with_gaps_are_written_right_or_refused",
     "collectives into views with gaps on rank 0 of 2: "),
])
def test_planted_fault_turns_its_unit_red_on_every_rank(tmp_path, fault, unit, said):
    res = launch(tmp_path, "-k", unit, fault=fault)
    assert res.returncode != 0, res.stdout
    assert f"FAILED {unit}[cpu]" in res.stdout and said in res.stdout, res.stdout
    assert f"FAILED on another rank: {unit}[cpu] rank 1" in res.stdout, res.stdout


def test_a_hung_collective_is_stopped_and_named(tmp_path):
    unit = "distributed.all_reduce.sum_matches_a_single_process_sum"
    res = launch(tmp_path, "-k", unit, "--unit-timeout", "10", fault="all_reduce_hangs")
    assert res.returncode != 0, res.stdout
    assert f"FAILED on another rank: {unit}[cpu] rank 1" in res.stdout, res.stdout
    assert "timed out" in res.stdout.lower() or "timeout" in res.stdout.lower(), res.stdout


def test_a_world_of_one_runs_them(tmp_path):
    res = launch(tmp_path, "-k", "distributed", nproc=1)
    assert res.returncode == 0 and "a world of one rank" in res.stdout, res.stdout + res.stderr


def test_nproc_launches_through_torchrun(tmp_path):
    res = subprocess.run([sys.executable, "-m", "refsuite", "run", "--nproc", "2", "-k", "distributed.sampler"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert res.returncode == 0 and "2 ranks (gloo" in res.stdout, res.stdout + res.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_meet_through_a_c10d_rendezvous(tmp_path):
    # two torchrun processes, one rank each, as two hosts would run them
    endpoint = f"localhost:{_free_port()}"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1", "--rdzv-backend=c10d",
           f"--rdzv-endpoint={endpoint}", "--rdzv-id=refsuite-test", "-m", "refsuite", "run", "-k", "distributed.sampler"]
    nodes = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path) for _ in range(2)]
    outs = [node.communicate(timeout=300) for node in nodes]
    assert [n.returncode for n in nodes] == [0, 0], outs
    assert sum("2 ranks (gloo" in out for out, _ in outs) == 1, outs  # rank 0 reports, on one node
