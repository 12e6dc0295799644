"""Units for the tutorial's "Training Your PyTorch Model" part."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
from hypothesis import strategies as st

from ..core import strategies as rst
from ..core.registry import FLOAT64, Requires, UnitGroup
from ..tutorial import data as tdata
from ..tutorial import training
from ..tutorial.evaluation import evaluate
from ..tutorial.nets import Net

units = UnitGroup()


def _logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))[:, 0]


@units.unit("training.loss.cross_entropy_is_mean_negative_log_softmax", requires=FLOAT64)
def cross_entropy(ctx):
    """CrossEntropyLoss equals −log_softmax at the target, averaged over the batch (float64 numpy reference)."""

    @ctx.given(data=st.data(), n=st.integers(1, 16), classes=st.integers(2, 12))
    def prop(data, n, classes):
        logits = data.draw(rst.tensors(ctx.device, shape=(n, classes), dtype=torch.float64, min_value=-30, max_value=30))
        target = torch.tensor(data.draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)), device=ctx.torch_device)
        got = nn.CrossEntropyLoss()(logits, target)
        x, t = logits.cpu().numpy(), target.cpu().numpy()
        want = float(np.mean(_logsumexp(x) - x[np.arange(n), t]))
        ctx.assert_close(got, torch.tensor(want, dtype=torch.float64), what="CrossEntropyLoss vs mean(-log_softmax[target])")

    with ctx.tiny_kernels():
        prop()


@units.unit("training.sgd.momentum_step_matches_textbook", requires=FLOAT64)
def sgd_momentum(ctx):
    """Several SGD steps with momentum equal v ← μ·v + g (v₁ = g), p ← p − lr·v computed by hand."""

    @ctx.given(
        data=st.data(), lr=st.floats(1e-4, 1.0), momentum=st.floats(0.0, 0.99), steps=st.integers(1, 4),
        shape=rst.shapes(min_dims=1, max_dims=2, max_side=5),
    )
    def prop(data, lr, momentum, steps, shape):
        p0 = data.draw(rst.tensors(ctx.device, shape=shape, dtype=torch.float64, min_value=-10, max_value=10))
        grads = [data.draw(rst.tensors(ctx.device, shape=shape, dtype=torch.float64, min_value=-10, max_value=10)) for _ in range(steps)]
        param = torch.nn.Parameter(p0.clone())
        opt = torch.optim.SGD([param], lr=lr, momentum=momentum)
        p, v = p0.cpu().numpy().copy(), None
        for g in grads:
            param.grad = g.clone()
            opt.step()
            gn = g.cpu().numpy()
            v = gn.copy() if v is None else momentum * v + gn
            p = p - lr * v
        ctx.assert_close(param.detach(), torch.from_numpy(p), what="SGD vs the textbook update",
                         where=f"{steps} steps, lr={lr}, momentum={momentum}")

    prop()


@units.unit("training.zero_grad.resets_and_omitting_it_accumulates")
def zero_grad(ctx):
    """After zero_grad a backward pass gives the fresh gradient; without it gradients add up."""

    @ctx.given(x=rst.tensors(ctx.device, shape=(3, 4), min_value=-5, max_value=5), repeats=st.integers(2, 4))
    def prop(x, repeats):
        w = torch.nn.Parameter(torch.ones(4, device=ctx.torch_device))
        opt = torch.optim.SGD([w], lr=0.0)  # lr 0: only the gradients change
        fresh = x.sum(dim=0)  # d/dw of (x @ w).sum()
        for _ in range(repeats):
            (x @ w).sum().backward()
        ctx.assert_close(w.grad, fresh * repeats, what="gradient after backward() without zero_grad", rtol=1e-5, atol=1e-4)
        opt.zero_grad()
        assert w.grad is None or bool((w.grad == 0).all()), "zero_grad left a non-zero gradient"
        (x @ w).sum().backward()
        ctx.assert_close(w.grad, fresh, what="gradient after zero_grad and one backward()", rtol=1e-5, atol=1e-4)

    prop()


@units.unit("training.backward.fills_every_parameter_of_net")
def backward_fills(ctx):
    """loss.backward() gives every parameter of Net a gradient of the parameter's shape."""
    net = Net().to(ctx.torch_device)
    images = torch.randn(4, 3, 32, 32, generator=ctx.cpu_generator(0)).to(ctx.torch_device)
    labels = torch.tensor([0, 3, 5, 9], device=ctx.torch_device)
    nn.CrossEntropyLoss()(net(images), labels).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, f"{name} has no gradient after backward()"
        assert p.grad.shape == p.shape, f"{name}: gradient {tuple(p.grad.shape)} vs parameter {tuple(p.shape)}"
        assert bool(torch.isfinite(p.grad).all()) and bool(p.grad.ne(0).any()), f"{name}: gradient is zero or not finite"


def _tutorial_run(ctx, images, labels, recipe, fast_kernels: bool = False) -> list:
    net = training.new_net(recipe.seed, channels=images.shape[1])
    batches = tdata.TensorBatches(images, labels, recipe.batch_size, shuffle=True, seed=recipe.seed)
    with ctx.tiny_kernels():
        history = training.train_loop(net, batches, recipe, ctx.torch_device, fast_kernels=fast_kernels, step_boundary=ctx.flush)
    return [w["loss"] for w in history.windows]


@units.unit("training.loop.running_loss_falls_and_repeats",
            requires=Requires(dataset=True, packages=("torchvision",), dataset_capabilities=frozenset({"learnable", "32x32", "ten_classes"})))
def loop_loss_falls(ctx):
    """The tutorial's loop (batch 4, SGD lr 0.001, momentum 0.9) lowers the running loss; seeded CPU runs repeat exactly.

    Colour datasets train the tutorial's Net, greyscale ones its LeNet.
    """
    images, labels = tdata.to_tensors(ctx.dataset.train)
    images, labels = images[:2400].to(ctx.torch_device), labels[:2400].to(ctx.torch_device)
    # At least 600 steps of batch 4 (small datasets take more than one epoch) in windows of 150.
    recipe = training.Recipe(epochs=-(-2400 // len(labels)), window=150)
    losses = _tutorial_run(ctx, images, labels, recipe)
    assert losses[-1] < losses[0] * 0.9, f"running loss did not fall: windows {[round(x, 3) for x in losses]}"
    if ctx.torch_device.type == "cpu":
        again = _tutorial_run(ctx, images, labels, recipe)
        assert again == losses, f"two seeded CPU runs differ: {losses} vs {again}"


@units.unit("training.loop.fast_kernels_follow_the_tutorial_loop",
            requires=Requires(dataset=True, packages=("torchvision",), dataset_capabilities=frozenset({"32x32", "ten_classes"})))
def fast_kernels_follow(ctx):
    """train_loop's fast kernels (fused SGD, native CPU convolutions) give the tutorial loop's running losses.

    ``refsuite train`` runs the tutorial's recipe this way; only the kernels differ, so the losses
    agree to float32 rounding accumulated over the steps.
    """
    images, labels = tdata.to_tensors(ctx.dataset.train)
    images, labels = images[:400].to(ctx.torch_device), labels[:400].to(ctx.torch_device)
    recipe = training.Recipe(epochs=1, window=25)
    want = _tutorial_run(ctx, images, labels, recipe)
    got = _tutorial_run(ctx, images, labels, recipe, fast_kernels=True)
    ctx.assert_close(torch.tensor(got), torch.tensor(want), what="running losses, fast kernels vs the tutorial's loop",
                     rtol=1e-3, atol=1e-4)


@units.unit(
    "training.tutorial.two_epochs_reach_half_accuracy_on_cifar10",
    requires=Requires(dataset="cifar10", packages=("torchvision",), slow=True),
)
def two_epochs_fifty_percent(ctx):
    """Two epochs of exactly the tutorial's recipe on the real CIFAR-10 reach at least 50 % test accuracy."""
    ds = ctx.dataset
    net = training.new_net(0)
    loader = tdata.tutorial_loader(ds.train, train=True)
    training.train_loop(net, loader, training.Recipe(), ctx.torch_device, step_boundary=ctx.flush)
    result = evaluate(net, tdata.tutorial_loader(ds.test, train=False), ctx.torch_device)
    assert result["accuracy"] >= 0.5, f"test accuracy {result['accuracy']:.1%} < 50 % after the tutorial's two epochs"
