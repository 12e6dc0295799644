"""Units for the tutorial's evaluation on the test set, and checkpoints."""
from __future__ import annotations

import io
import pickle

import torch
from hypothesis import strategies as st

from ..core.registry import Requires, UnitGroup
from ..tutorial import evaluation
from ..tutorial.nets import Net

units = UnitGroup()


@st.composite
def logits_and_labels(draw, device):
    n = draw(st.integers(1, 20))
    classes = draw(st.integers(2, 10))
    # Small integers make ties between logits common.
    values = draw(st.lists(st.lists(st.integers(-3, 3), min_size=classes, max_size=classes), min_size=n, max_size=n))
    labels = draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n))
    return values, labels, classes


def _first_argmax(row):
    best = 0
    for j, v in enumerate(row):
        if v > row[best]:
            best = j
    return best


@units.unit("evaluation.accuracy.no_grad_matches_manual_count")
def accuracy(ctx):
    """Under no_grad outputs need no grad, and accuracy equals a manual count where the first maximal index wins."""
    net = Net().to(ctx.torch_device)
    with torch.no_grad():
        out = net(torch.zeros(2, 3, 32, 32, device=ctx.torch_device))
    assert not out.requires_grad and out.grad_fn is None, "a forward under torch.no_grad() built a graph"

    @ctx.given(case=logits_and_labels(ctx.device))
    def prop(case):
        values, labels, classes = case
        logits = torch.tensor(values, dtype=torch.float32, device=ctx.torch_device, requires_grad=True)
        with torch.no_grad():
            predicted = evaluation.predictions(logits)
            assert not predicted.requires_grad
        manual = sum(_first_argmax(row) == label for row, label in zip(values, labels))
        got = int((predicted.cpu() == torch.tensor(labels)).sum())
        assert got == manual, f"accuracy count {got} vs manual {manual} for logits {values} labels {labels}"

    prop()


@units.unit("evaluation.confusion.rows_sum_to_class_counts")
def confusion(ctx):
    """The confusion matrix's rows sum to the class counts, its trace is the correct count, per-class accuracy follows."""

    @ctx.given(pairs=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), min_size=1, max_size=60))
    def prop(pairs):
        labels = torch.tensor([t for t, _ in pairs], device=ctx.torch_device)
        predicted = torch.tensor([p for _, p in pairs], device=ctx.torch_device)
        matrix = evaluation.confusion_matrix(predicted, labels)
        counts = [sum(t == c for t, _ in pairs) for c in range(10)]
        assert matrix.sum(dim=1).tolist() == counts, f"row sums {matrix.sum(dim=1).tolist()} vs class counts {counts}"
        assert int(matrix.trace()) == sum(t == p for t, p in pairs), "trace is not the number of correct predictions"
        for c, acc in enumerate(evaluation.per_class_accuracy(matrix)):
            right = sum(t == p == c for t, p in pairs)
            assert acc == (right / counts[c] if counts[c] else None), f"class {c}: {acc} vs {right}/{counts[c]}"

    prop()


@units.unit("evaluation.checkpoint.round_trip_is_bitwise_and_truncation_is_clear")
def checkpoint(ctx):
    """A state_dict saved and loaded with weights_only=True gives bitwise-identical outputs; a truncated file is a clear error."""
    net = Net().to(ctx.torch_device).eval()
    x = torch.randn(3, 3, 32, 32, generator=ctx.cpu_generator(1)).to(ctx.torch_device)
    path = ctx.tmp_path / "net.pt"
    torch.save(net.state_dict(), path)
    clone = Net().to(ctx.torch_device).eval()
    # Loaded onto the CPU and copied into the device's parameters by load_state_dict: that works on
    # every backend, while map_location=<device> needs the backend to register a deserialisation tag.
    clone.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    with torch.no_grad():
        assert torch.equal(net(x).cpu(), clone(x).cpu()), "outputs differ after a checkpoint round trip"
    truncated = io.BytesIO(path.read_bytes()[: path.stat().st_size // 2])
    try:
        torch.load(truncated, weights_only=True)
    except (RuntimeError, EOFError, ValueError) as exc:
        assert str(exc), "a truncated checkpoint raised an error with no message"
        return
    raise AssertionError("loading a truncated checkpoint did not raise")


class _NotWeights:
    """An arbitrary pickled object, which a weights-only load must refuse."""


@units.unit("evaluation.checkpoint.load_defaults_to_weights_only", requires=Requires(min_torch="2.6"))
def weights_only_default(ctx):
    """Since torch 2.6, torch.load without weights_only refuses pickled objects that are not tensors or state."""
    path = ctx.tmp_path / "object.pt"
    torch.save({"weights": torch.ones(2), "object": _NotWeights()}, path)
    try:
        torch.load(path)
    except pickle.UnpicklingError as exc:
        assert "weights_only" in str(exc), f"refused, but the message does not say why: {exc}"
    else:
        raise AssertionError("torch.load() unpickled an arbitrary object: weights_only is not the default")
    assert torch.equal(torch.load(path, weights_only=False)["weights"], torch.ones(2))
