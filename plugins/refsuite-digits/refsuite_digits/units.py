"""A unit that needs the digits dataset: LeNet, trained briefly, reads real handwriting."""
from __future__ import annotations

from refsuite import Requires, UnitGroup
from refsuite.tutorial.evaluation import evaluate
from refsuite.tutorial.data import TensorBatches, to_tensors
from refsuite.tutorial.training import new_net, train_fast

units = UnitGroup()


@units.unit("training.digits.lenet_reaches_90_percent", requires=Requires(dataset="digits"))
def lenet_on_digits(ctx):
    """LeNet trained for 10 epochs on the digits training split reaches at least 90 % test accuracy."""
    ds = ctx.dataset
    images, labels = to_tensors(ds.train)
    test_images, test_labels = to_tensors(ds.test)
    net = new_net(0, channels=1)
    train_fast(net, images, labels, 10, ctx.torch_device, batch_size=32, max_lr=0.1)
    result = evaluate(net, TensorBatches(test_images, test_labels, 512, shuffle=False), ctx.torch_device)
    ctx.record_metric("digits_test_accuracy", result["accuracy"])
    assert result["accuracy"] >= 0.9, f"LeNet reached {result['accuracy']:.1%} on digits, below 90 %"
