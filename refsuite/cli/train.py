"""``refsuite train``: the tutorial's training as a job, with progress, metrics.json and a loss curve."""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

from typing import TYPE_CHECKING

from .. import options
from ..core.errors import OutputError, UsageError
from ..core.records import check_writable
from .exit_codes import Exit, report

# torch and the tutorial are imported by the functions that train: `refsuite --help` builds this
# command's parser and should not wait for torch
if TYPE_CHECKING:
    from ..tutorial.training import Recipe


def configure(p: argparse.ArgumentParser) -> None:
    # one device: --device takes one value here (run and bench take several)
    p.add_argument("--device", default="cpu", metavar="DEVICE",
                   help="the device to train on: cpu, cuda, cuda:1, mps, xpu or any type torch knows (default: cpu)")
    options.add_to_argparse(p, options.DATA)
    p.add_argument("--epochs", type=options.at_least(1), default=2, help="passes over the training set (default: 2)")
    p.add_argument("--batch-size", type=options.at_least(1), default=None,
                   help="mini-batch size (default: 4, the tutorial's; 32 with --fast)")
    p.add_argument("--lr", type=options.positive, default=0.001, help="SGD learning rate (default: 0.001, the tutorial's)")
    p.add_argument("--momentum", type=options.fraction, default=0.9, help="SGD momentum (default: 0.9, the tutorial's)")
    p.add_argument("--seed", type=options.at_least(0), default=0,
                   help="seeds the network's initialisation and the shuffle (default: 0)")
    p.add_argument("--window", type=options.at_least(0), default=0,
                   help="mini-batches per running-loss line; 0: about 6 lines per epoch (default: 0)")
    p.add_argument("--threads", type=options.at_least(1), default=None,
                   help="torch intra-op threads on CPU "
                        "(default: 1 for batches up to 16, else every core this process may use)")
    p.add_argument("--fast", action="store_true",
                   help="same model and data: large batch, one-cycle schedule (default: the tutorial's recipe)")
    p.add_argument("--out", default="refsuite-train", metavar="DIR",
                   help="directory for metrics.json and loss.png (default: refsuite-train)")


def main(args: argparse.Namespace) -> int:
    from ..core.devices import resolve_devices
    from ..core.discovery import discover
    from ..tutorial.training import Recipe

    devices = resolve_devices([args.device], discover().devices, discover().broken("refsuite.devices"))
    if len(devices) != 1:
        raise UsageError(f"train runs on one device, got {', '.join(d.label for d in devices)}")
    (device,) = devices
    dataset = options.dataset_selection(args)
    out = check_writable(args.out, "--out", directory=True, names=(METRICS, LOSS_PICTURE))
    batch = args.batch_size if args.batch_size is not None else (32 if args.fast else 4)
    recipe = Recipe(epochs=args.epochs, batch_size=batch, lr=args.lr, momentum=args.momentum, seed=args.seed,
                    window=args.window)
    return run(device.torch, dataset.load(), recipe, out, fast=args.fast, threads=args.threads, step_boundary=device.flush)


METRICS, LOSS_PICTURE = "metrics.json", "loss.png"


def default_window(batches_per_epoch: int) -> int:
    # The tutorial prints every 2000 of its 12,500 mini-batches; keep about six windows per epoch.
    return max(1, min(2000, batches_per_epoch // 6))


def loss_figure(windows: list, batches_per_epoch: int, title: str):
    """The running loss against training progress in epochs: a window ending at batch b of epoch e
    sits at e - 1 + b / batches_per_epoch, so ticks read 1, 2 where epochs end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    at = [w["epoch"] - 1 + w["batch"] / batches_per_epoch for w in windows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(at, [w["loss"] for w in windows], marker="o")
    ax.set_xlim(0, max(1, windows[-1]["epoch"]))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("running loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_losses(windows: list, batches_per_epoch: int, path: Path, title: str) -> None:
    """The loss curve as a PNG at ``path``, written through :func:`refsuite.core.records.replacing`
    (OutputError if it cannot be)."""
    import matplotlib.pyplot as plt

    from ..core.records import replacing

    fig = loss_figure(windows, batches_per_epoch, title)
    try:
        with replacing(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)


def run(device, dataset, recipe: Recipe, out: Path, *, fast: bool, threads: int | None, step_boundary=None) -> int:
    """Train, write the training's metrics and loss curve, evaluate, write the metrics again; the exit code."""
    from ..tutorial.data import TensorBatches, to_tensors
    from ..tutorial.training import new_net

    _set_threads(device, recipe, fast, threads)
    images, labels = to_tensors(dataset.train)
    batches = TensorBatches(images.to(device), labels.to(device), recipe.batch_size, shuffle=True, seed=recipe.seed)
    if recipe.window <= 0:
        recipe = dataclasses.replace(recipe, window=default_window(len(batches)))
    net = new_net(recipe.seed, channels=dataset.channels)
    started = time.perf_counter()
    history = _train(net, batches, images, labels, recipe, device, fast=fast, step_boundary=step_boundary)
    metrics = _metrics(recipe, dataset, history, device, fast=fast, started=started)
    outputs = _Outputs(out)
    # The training's results are on disk before evaluation starts: an interrupt there loses nothing.
    outputs.write_metrics(metrics)
    if history.windows:
        outputs.write_loss_curve(history.windows, math.ceil(len(labels) / recipe.batch_size),
                                 f"{metrics['recipe']} recipe on {dataset.name} ({device})")
    if history.interrupted:
        print("\ninterrupted: keeping the metrics so far", file=sys.stderr)
    else:
        print("Finished Training")
        _evaluate(net, dataset, device, history, metrics)
        metrics["wall_seconds"] = round(time.perf_counter() - started, 3)
        outputs.write_metrics(metrics)
    outputs.say()
    return _exit_code(history.interrupted, bool(outputs.failed))


def _exit_code(interrupted: bool, output_failed: bool) -> int:
    from ..core import interrupts

    if interrupted:
        return interrupts.exit_code()  # 130 for Ctrl-C, 143 for SIGTERM...: says which signal stopped it
    return Exit.FAILED if output_failed else Exit.OK


def _set_threads(device, recipe: Recipe, fast: bool, threads: int | None) -> None:
    import torch

    from ..core.budgets import affinity_cores

    if device.type == "cpu":
        # Batch-4 steps are too small for intra-op threads to pay off (and extra threads fight
        # DataLoader workers for the cores); large batches use every core.
        torch.set_num_threads(threads or (1 if recipe.batch_size <= 16 and not fast else affinity_cores()))


def _train(net, batches, images, labels, recipe: Recipe, device, *, fast: bool, step_boundary):
    """The training's History: the tutorial's loop under a progress bar, or --fast's recipe."""
    from ..core import progress
    from ..tutorial.training import History, train_fast, train_loop

    history = History()

    def say_window(row):
        progress.write("[%d, %5d] loss: %.3f" % (row["epoch"], row["batch"], row["loss"]))

    if fast:
        print(f"--fast: batch {recipe.batch_size}, one-cycle SGD, {recipe.epochs} epochs on {device}")
        train_fast(net, images, labels, recipe.epochs, device, batch_size=recipe.batch_size, seed=recipe.seed,
                   on_window=say_window, history=history, step_boundary=step_boundary)
        return history
    with progress.progress(total=recipe.epochs * len(batches), unit="batch", desc=f"training on {device}") as bar:
        def step(loss):
            bar.update()
            if bar.n % 200 == 0:
                bar.set_postfix(loss=f"{loss:.3f}")

        train_loop(net, batches, recipe, device, on_window=say_window, on_step=step, history=history,
                   fast_kernels=True, step_boundary=step_boundary)
    return history


def _metrics(recipe: Recipe, dataset, history, device, *, fast: bool, started: float) -> dict:
    """metrics.json's content once training stopped (finished or interrupted), before evaluation."""
    import torch

    from ..core.records import environment

    return {
        "recipe": "fast" if fast else "tutorial",
        "config": dataclasses.asdict(recipe),
        "dataset": dataset.name,
        "windows": history.windows,
        "images": history.images,
        "train_seconds": round(history.seconds, 3),
        "images_per_second": round(history.images_per_second, 1),
        "interrupted": history.interrupted,
        "environment": environment([str(device)], dataset.name),
        "threads": {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads(), "loader_workers": 0},
        "stage": "interrupted during training" if history.interrupted else "trained; evaluating",
        "wall_seconds": round(time.perf_counter() - started, 3),
    }


def _evaluate(net, dataset, device, history, metrics: dict) -> None:
    """Test-set accuracy into ``metrics``, printed as the tutorial prints it; an interrupt is kept as one."""
    from ..tutorial import golden
    from ..tutorial.data import TensorBatches, to_tensors
    from ..tutorial.evaluation import evaluate

    test_images, test_labels = to_tensors(dataset.test)
    try:
        result = evaluate(net, TensorBatches(test_images, test_labels, 1000, shuffle=False), device)
    except KeyboardInterrupt:
        history.interrupted = True
        metrics.update(stage="interrupted during evaluation", interrupted=True)
        print("\ninterrupted during evaluation: the training's metrics are kept", file=sys.stderr)
        return
    metrics.update(stage="evaluated", accuracy=result["accuracy"], confusion=result["confusion"])
    names = [golden.ABBREVIATIONS.get(c, c) for c in dataset.classes]
    metrics["per_class_accuracy"] = dict(zip(names, result["per_class_accuracy"]))
    print("Accuracy of the network on the %d test images: %d %%" % (result["total"], 100 * result["accuracy"]))
    for name, acc in metrics["per_class_accuracy"].items():
        print(f"Accuracy for class: {name:5s} is {100 * acc:.1f} %" if acc is not None else f"class {name}: no test images")


class _Outputs:
    """metrics.json and loss.png in ``out``. One that cannot be written (a full disk) stops nothing:
    the others are still written, the evaluation still runs, and what failed is said once at the end."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.written: list[Path] = []
        self.failed: dict[Path, OutputError] = {}

    def write_metrics(self, metrics: dict) -> None:
        from ..core.records import write_json

        self._keep(self.out / METRICS, lambda path: write_json(path, metrics))

    def write_loss_curve(self, windows: list, batches_per_epoch: int, title: str) -> None:
        self._keep(self.out / LOSS_PICTURE, lambda path: plot_losses(windows, batches_per_epoch, path, title))

    def _keep(self, path: Path, write) -> None:
        if path not in self.written:
            self.written.append(path)
        try:
            write(path)
        except OutputError as exc:
            self.failed[path] = exc
        else:
            self.failed.pop(path, None)

    def say(self) -> None:
        """Name the outputs written on stdout, and each that could not be on stderr."""
        written = [path for path in self.written if path not in self.failed]
        if written:
            print("wrote " + " and ".join(map(str, written)))
        for exc in self.failed.values():
            report("train", exc)
