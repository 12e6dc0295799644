"""The tutorial's own loop vs the same recipe as `refsuite train` runs it vs `--fast`.

Same data (synthetic-cifar10), same number of epochs, one run. Each configuration trains
once (pedantic, one round): the figure is images/s over the whole training and the test
accuracy it reaches. Run: pytest benchmarks/test_training_speed.py
"""
from __future__ import annotations

import os

import pytest
import torch

from refsuite.tutorial import data, training
from refsuite.datasets.synthetic import SYNTHETIC_CIFAR10
from refsuite.tutorial.evaluation import evaluate

EPOCHS = 2
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def data():
    ds = SYNTHETIC_CIFAR10.load(None, False)
    return ds, data.to_tensors(ds.train), data.to_tensors(ds.test)


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


def _accuracy(net, test):
    return evaluate(net, data.TensorBatches(*test, 1000, shuffle=False), CPU)["accuracy"]


def _record(benchmark, results, name, history, net, test):
    row = {"images_per_second": history.images_per_second, "accuracy": _accuracy(net, test),
           "threads": torch.get_num_threads()}
    benchmark.extra_info.update(row)
    results[name] = row


@pytest.mark.parametrize("intra_op_threads", [os.cpu_count(), 1], ids=["default_threads", "one_thread"])
def test_tutorial_loop(benchmark, results, data, threads, intra_op_threads):
    """The tutorial as written: PIL transforms per sample, DataLoader(batch 4, workers 2)."""
    ds, _, test = data
    threads(intra_op_threads)
    net = training.new_net(0)
    loader = data.tutorial_loader(ds.train, train=True, num_workers=2)
    recipe = training.Recipe(epochs=EPOCHS, window=10**9)
    history = benchmark.pedantic(training.train_loop, (net, loader, recipe, CPU), rounds=1, iterations=1)
    name = "tutorial_loop" if intra_op_threads == os.cpu_count() else "tutorial_loop_1_thread"
    _record(benchmark, results, name, history, net, test)


def test_refsuite_train_tutorial_recipe(benchmark, results, data, threads):
    """Same recipe (batch 4, SGD 0.001/0.9): data decoded once into tensors, one intra-op thread,
    fused SGD and torch's native convolutions for the tiny batches."""
    _, train, test = data
    threads(1)
    net = training.new_net(0)
    batches = data.TensorBatches(*train, 4, shuffle=True)
    recipe = training.Recipe(epochs=EPOCHS, window=10**9)
    history = benchmark.pedantic(training.train_loop, (net, batches, recipe, CPU), {"fast_kernels": True}, rounds=1, iterations=1)
    _record(benchmark, results, "refsuite_train", history, net, test)


def test_refsuite_train_fast(benchmark, results, data, threads):
    """`refsuite train --fast`: batch 32, one-cycle SGD, every core."""
    _, train, test = data
    threads(os.cpu_count())
    net = training.new_net(0)
    history = benchmark.pedantic(training.train_fast, (net, *train, EPOCHS, CPU), rounds=1, iterations=1)
    _record(benchmark, results, "refsuite_train_fast", history, net, test)
