"""Accuracy, per-class accuracy and the confusion matrix, as the tutorial evaluates its network."""
from __future__ import annotations

import torch


def predictions(logits: torch.Tensor) -> torch.Tensor:
    """The tutorial's ``torch.max(outputs.data, 1)[1]``: on ties the first maximal index wins."""
    return torch.max(logits, 1)[1]


def confusion_matrix(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Rows are true classes, columns predicted classes (int64, on the CPU)."""
    index = labels.cpu().long() * num_classes + predicted.cpu().long()
    return torch.bincount(index, minlength=num_classes * num_classes).view(num_classes, num_classes)


def per_class_accuracy(confusion: torch.Tensor) -> list[float | None]:
    """Correct / total per true class; None for a class with no samples."""
    totals = confusion.sum(dim=1)
    return [int(confusion[c, c]) / int(totals[c]) if totals[c] else None for c in range(confusion.shape[0])]


@torch.no_grad()
def evaluate(net: torch.nn.Module, batches, device: torch.device, num_classes: int = 10) -> dict:
    """Run the network over (images, labels) batches without building a graph."""
    was_training = net.training
    net.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for images, labels in batches:
        logits = net(images.to(device, non_blocking=True))
        confusion += confusion_matrix(predictions(logits), labels, num_classes)
    net.train(was_training)
    total = int(confusion.sum())
    return {
        "accuracy": float(confusion.trace()) / total if total else 0.0,
        "per_class_accuracy": per_class_accuracy(confusion),
        "confusion": confusion.tolist(),
        "total": total,
    }
