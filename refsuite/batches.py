"""Looking at a batch, as the tutorial does: un-normalised make_grid of four images and their labels."""
from __future__ import annotations

from pathlib import Path

import torch

from . import tutorial


def first_batch(dataset, batch_size: int = 4, seed: int = 0, channels: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """A shuffled batch of the training split, normalised as the tutorial trains (seeded)."""
    from torch.utils.data import DataLoader

    from .datasets.base import transformed

    loader = DataLoader(transformed(dataset, tutorial.training_transform(channels)), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    return next(iter(loader))


def unnormalized_grid(images: torch.Tensor) -> torch.Tensor:
    """make_grid of the batch after undoing Normalize(0.5, 0.5): the tutorial's ``img / 2 + 0.5``."""
    import torchvision

    return torchvision.utils.make_grid(images) / 2 + 0.5


def label_line(labels: torch.Tensor, classes) -> str:
    """The tutorial's ``' '.join('%5s' % classes[labels[j]] ...)``."""
    return " ".join("%5s" % classes[int(j)] for j in labels)


def save_grid_png(grid: torch.Tensor, caption: str, path: Path, scale: int = 4) -> Path:
    """Write the grid, enlarged, with the labels printed underneath."""
    from PIL import Image, ImageDraw
    from torchvision.transforms.functional import to_pil_image

    image = to_pil_image(grid.clamp(0, 1).cpu())
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    canvas = Image.new("RGB", (image.width, image.height + 24), "white")
    canvas.paste(image, (0, 0))
    ImageDraw.Draw(canvas).text((4, image.height + 6), caption, fill="black")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, format="PNG")
    return path
