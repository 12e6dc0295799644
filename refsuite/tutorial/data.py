"""The tutorial's data path: its transform and DataLoader, the same data as tensors decoded once,
and its "look at a batch" (an un-normalised make_grid of four images and their labels)."""
from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Iterator, Sequence

import torch


def training_transform(channels: int = 3):
    """The transform the tutorial trains with: ToTensor, then Normalize by 0.5 in every channel."""
    import torchvision.transforms as transforms

    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * channels, (0.5,) * channels)])


def transformed(dataset, transform):
    """A shallow copy of a torchvision dataset with another transform; the shared original is untouched."""
    clone = copy.copy(dataset)
    clone.transform = transform
    return clone


def tutorial_loader(dataset, *, train: bool, batch_size: int = 4, num_workers: int = 2, seed: int = 0, channels: int = 3):
    """The tutorial's DataLoader: per-sample PIL transforms, shuffled for training."""
    from torch.utils.data import DataLoader

    return DataLoader(
        transformed(dataset, training_transform(channels)),
        batch_size=batch_size,
        shuffle=train,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=num_workers > 0,
    )


def to_tensors(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """A dataset holding ``data`` (N×H×W×C or N×H×W uint8) and ``targets``, decoded once.

    Equal to what the tutorial's ToTensor + Normalize(0.5, 0.5) gives per sample.
    """
    data = torch.from_numpy(dataset.data)
    # NCHW with its own strides: the tutorial's x.view(...) fails on channels_last activations, and
    # a permuted 1-channel tensor would look channels_last to the convolution.
    data = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)
    data = data.float().div_(255).contiguous()
    return data.sub_(0.5).div_(0.5), torch.as_tensor(dataset.targets, dtype=torch.int64)


class TensorBatches:
    """Shuffled mini-batches from tensors already in memory (on any device)."""

    def __init__(self, images, labels, batch_size: int, *, shuffle: bool, seed: int = 0) -> None:
        self.images, self.labels, self.batch_size, self.shuffle = images, labels, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = order.to(self.images.device)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield self.images[idx], self.labels[idx]


def first_batch(dataset, batch_size: int = 4, seed: int = 0, channels: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """A shuffled batch of the training split, normalised as the tutorial trains (seeded)."""
    loader = tutorial_loader(dataset, train=True, batch_size=batch_size, num_workers=0, seed=seed, channels=channels)
    return next(iter(loader))


def unnormalized_grid(images: torch.Tensor) -> torch.Tensor:
    """make_grid of the batch after undoing Normalize(0.5, 0.5): the tutorial's ``img / 2 + 0.5``."""
    import torchvision

    return torchvision.utils.make_grid(images) / 2 + 0.5


def label_line(labels: torch.Tensor, classes) -> str:
    """The tutorial's ``' '.join('%5s' % classes[labels[j]] ...)``."""
    return " ".join("%5s" % classes[int(j)] for j in labels)


def save_grid_png(grid: torch.Tensor, labels: Sequence[str], path: Path, scale: int = 4, padding: int = 2) -> Path:
    """Write make_grid's grid (one row of tiles, ``padding`` between them), enlarged, with each
    tile's label centred under it."""
    from PIL import Image, ImageDraw, ImageFont
    from torchvision.transforms.functional import to_pil_image

    image = to_pil_image(grid.clamp(0, 1).cpu())
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    try:
        font = ImageFont.load_default(size=5 * scale)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or without FreeType: the small bitmap font
        font = ImageFont.load_default()
    band = 7 * scale
    canvas = Image.new("RGB", (image.width, image.height + band), "white")
    canvas.paste(image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    pitch = (grid.shape[-1] - padding) / max(1, len(labels))  # a tile and the padding after it
    for j, label in enumerate(labels):
        centre = (padding + j * pitch + (pitch - padding) / 2) * scale
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        draw.text((centre - (left + right) / 2, image.height + (band - top - bottom) / 2), label, fill="black", font=font)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, format="PNG")
    return path
