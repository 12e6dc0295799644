"""`refsuite train` as a user runs it."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from distributions import ctrl_c_reaches_it, run_refsuite


def test_train_writes_metrics_and_loss_curve(tmp_path):
    out = tmp_path / "out"
    res = run_refsuite("train", "--epochs", "1", "--out", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "[1,  " in res.stdout and "Accuracy of the network on the 1000 test images" in res.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["windows"][-1]["loss"] < metrics["windows"][0]["loss"]
    assert metrics["accuracy"] > 0.2  # chance is 0.1
    assert set(metrics["per_class_accuracy"]) == {"plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
    assert metrics["threads"]["intra_op"] == 1 and metrics["images_per_second"] > 0
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_unwritable_out_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = run_refsuite("train", "--out", str(blocker / "sub"), cwd=tmp_path)
    assert res.returncode == 4 and "cannot write there" in res.stderr
    assert "Finished Training" not in res.stdout


def test_ctrl_c_keeps_the_metrics_so_far(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-u", "-m", "refsuite", "train", "--epochs", "20", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            preexec_fn=ctrl_c_reaches_it)
    deadline = time.time() + 120
    line = ""
    while "loss:" not in line and time.time() < deadline:
        line = proc.stdout.readline()
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True and metrics["windows"]


INTERRUPTED_EVALUATION = """
import sys
from refsuite import cli
from refsuite.tutorial import evaluation

def interrupted(*args, **kwargs):
    raise KeyboardInterrupt

evaluation.evaluate = interrupted
sys.exit(cli.main(["train", "--epochs", "1", "--out", sys.argv[1]]))
"""


@pytest.mark.slow
def test_ctrl_c_during_evaluation_keeps_the_finished_training(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_EVALUATION, str(out)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 130, done.stderr[-3000:]
    assert "Finished Training" in done.stdout and "Traceback" not in done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stage"] == "interrupted during evaluation" and metrics["interrupted"] is True
    assert metrics["windows"] and metrics["images"] == 5000 and "accuracy" not in metrics
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")], "a temporary file was left behind"


@pytest.mark.slow
def test_metrics_say_the_run_was_evaluated(tmp_path):
    out = tmp_path / "out"
    res = run_refsuite("train", "--epochs", "1", "--batch-size", "64", "--out", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stage"] == "evaluated" and metrics["config"]["batch_size"] == 64
