"""The tutorial's training loop, and two faster ways to train the same ``Net`` on the same data.

* :func:`train_loop` over :func:`~refsuite.tutorial.data.tutorial_loader` — the tutorial exactly:
  PIL images through ToTensor/Normalize per sample in DataLoader workers, batch 4, plain SGD.
* :func:`train_loop` over :class:`~refsuite.tutorial.data.TensorBatches` — the same recipe (batch 4,
  SGD lr 0.001, momentum 0.9, a fresh shuffle each epoch) with the dataset decoded once;
  ``fast_kernels=True`` computes the same steps with SGD's fused kernel and native convolutions.
* :func:`train_fast` — large batches on the device with a one-cycle learning-rate schedule.
"""
from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Callable

import torch
import torch.nn as nn
import torch.optim as optim

from ..core import interrupts
from .data import TensorBatches
from .hotpath import stage_fn
from .nets import LeNet, Net


@dataclasses.dataclass
class Recipe:
    epochs: int = 2
    batch_size: int = 4
    lr: float = 0.001
    momentum: float = 0.9
    seed: int = 0
    #: running-loss window in mini-batches (the tutorial prints every 2000)
    window: int = 2000


@dataclasses.dataclass
class History:
    """What a training run produced so far (kept when interrupted)."""

    windows: list = dataclasses.field(default_factory=list)  # {"epoch", "batch", "loss"}
    images: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0


def train_loop(
    net: nn.Module,
    batches,
    recipe: Recipe,
    device: torch.device,
    *,
    on_window: Callable[[dict], None] | None = None,
    on_step: Callable[[float], None] | None = None,
    history: History | None = None,
    fast_kernels: bool = False,
    step_boundary: Callable[[], None] | None = None,
) -> History:
    """The tutorial's loop: zero_grad, forward, CrossEntropyLoss, backward, SGD step; running loss per window.

    By default this is the tutorial's code exactly: ``optim.SGD`` as it writes it, torch's default
    convolution backend. ``fast_kernels=True`` keeps the recipe and changes only how it is
    computed: SGD's fused kernel (one call for all parameters, CPU and CUDA) and, for tiny batches
    on the CPU, torch's native convolutions instead of oneDNN's. ``step_boundary`` runs after each
    optimizer step: a lazy backend's ``DeviceType.flush``, so it compiles one step, not the whole run.
    """
    history = history or History()
    criterion = nn.CrossEntropyLoss()
    # The net moves before the optimizer sees its parameters: on a backend whose .to() makes new
    # Parameter objects, an optimizer built first would step the old copies.
    net.to(device).train()
    fused = {"fused": True} if fast_kernels and device.type in ("cpu", "cuda") else {}
    optimizer = optim.SGD(net.parameters(), lr=recipe.lr, momentum=recipe.momentum, **fused)
    start = time.perf_counter()
    kernels = _small_batch_cpu_convolutions(device, recipe.batch_size) if fast_kernels else contextlib.nullcontext()
    try:
        with kernels:
            _epochs(net, batches, recipe, device, criterion, optimizer, history, on_window, on_step, step_boundary)
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        history.seconds += time.perf_counter() - start
    return history


@contextlib.contextmanager
def _small_batch_cpu_convolutions(device: torch.device, batch_size: int):
    """At batch sizes like the tutorial's 4, use torch's native CPU convolutions instead of oneDNN.

    oneDNN's per-call overhead dominates such tiny convolutions: measured on the 2-core machine,
    one thread, batch 4, 3,668 vs 3,074 images/s.
    """
    if device.type != "cpu" or batch_size > 16:
        yield
        return
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


def _epochs(net, batches, recipe, device, criterion, optimizer, history, on_window, on_step, step_boundary) -> None:
    for epoch in range(recipe.epochs):
        running_loss = 0.0
        for i, (inputs, labels) in enumerate(batches):
            inputs, labels = inputs.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
            if step_boundary:
                step_boundary()
            interrupts.check()
            running_loss += loss.item()
            history.images += len(labels)
            if on_step:
                on_step(running_loss / (i % recipe.window + 1))
            if i % recipe.window == recipe.window - 1:
                row = {"epoch": epoch + 1, "batch": i + 1, "loss": running_loss / recipe.window}
                history.windows.append(row)
                if on_window:
                    on_window(row)
                running_loss = 0.0


def train_fast(
    net: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epochs: int,
    device: torch.device,
    *,
    batch_size: int = 32,
    max_lr: float = 0.05,
    seed: int = 0,
    on_window: Callable[[dict], None] | None = None,
    history: History | None = None,
    step_boundary: Callable[[], None] | None = None,
) -> History:
    """Same model and data: tensors on the device, large batches, SGD with a one-cycle schedule.

    The forward pass is refsuite's hot path (channels_last, ReLU after pooling), which the
    unit ``models.hotpath.pool_first_equals_tutorial_path`` proves equal to the tutorial's;
    the network is handed back in the default memory format, so ``net(x)`` works as written.
    ``max_lr`` 0.1 overshoots on images with sharp, high-contrast shapes: two epochs on
    synthetic-cifar10 reach 50 % test accuracy with it and 99.5 % with 0.05.
    """
    history = history or History()
    net.to(device, memory_format=torch.channels_last).train()
    forward = stage_fn(net, "net", pool_first=True)
    images = images.to(device).contiguous(memory_format=torch.channels_last)
    labels = labels.to(device)
    batches = TensorBatches(images, labels, batch_size, shuffle=True, seed=seed)
    optimizer = optim.SGD(net.parameters(), lr=max_lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    schedule = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, epochs=epochs, steps_per_epoch=len(batches))
    start = time.perf_counter()
    try:
        for epoch in range(epochs):
            losses = _fast_epoch(forward, batches, optimizer, schedule, device, history, step_boundary)
            row = {"epoch": epoch + 1, "batch": len(batches), "loss": float(losses) / len(batches)}
            history.windows.append(row)
            if on_window:
                on_window(row)
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        history.seconds += time.perf_counter() - start
        net.to(memory_format=torch.contiguous_format)
    return history


def _fast_epoch(forward: Callable, batches: TensorBatches, optimizer: optim.Optimizer,
                schedule: optim.lr_scheduler.LRScheduler, device: torch.device, history: History,
                step_boundary: Callable[[], None] | None) -> torch.Tensor:
    """One epoch of :func:`train_fast`'s steps; the sum of its losses, on the device."""
    criterion = nn.CrossEntropyLoss()
    losses = torch.zeros((), device=device)
    for inputs, targets in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(forward(inputs.contiguous(memory_format=torch.channels_last)), targets)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses += loss.detach()  # no .item(): the device is not synchronised every step
        if step_boundary:
            step_boundary()
        interrupts.check()
        history.images += len(targets)
    return losses


def new_net(seed: int, channels: int = 3) -> nn.Module:
    """The tutorial's network for the data: ``Net`` for colour images, ``LeNet`` for greyscale."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LeNet() if channels == 1 else Net()
