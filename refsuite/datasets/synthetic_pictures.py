"""``synthetic-cifar10``'s pictures: each class a picture a person tells apart at a glance (stripes in
three directions, a checkerboard, rings, a disc, dots, a cross, a square outline, a triangle), each
in its own colour, moved, turned and scaled per image, with modest noise (:data:`PICTURES`)."""
from __future__ import annotations

import numpy as np

#: the pixel noise's standard deviation (pixel values in [0, 1])
NOISE = 0.1

#: each class's colour, hues far apart (every image jitters it)
_PALETTE = np.array(
    [[0.30, 0.55, 1.00],  # plane: blue
     [0.95, 0.20, 0.20],  # car: red
     [1.00, 0.90, 0.20],  # bird: yellow
     [1.00, 0.55, 0.10],  # cat: orange
     [0.75, 0.50, 0.25],  # deer: brown
     [1.00, 0.45, 0.80],  # dog: pink
     [0.25, 0.80, 0.30],  # frog: green
     [0.65, 0.35, 0.95],  # horse: violet
     [0.20, 0.85, 0.85],  # ship: cyan
     [0.92, 0.92, 0.92]]  # truck: white
)
#: each class's picture, in words (the README lists them too)
PICTURES = ("blue horizontal stripes", "red vertical stripes", "yellow diagonal stripes", "orange checkerboard",
            "brown rings", "pink disc", "green dots", "violet cross", "cyan square outline", "white triangle")


def _inside(distance, edge: float = 0.03):
    """1 where ``distance`` < 0 (inside a shape), 0 outside, with an edge ``edge`` wide (anti-aliased)."""
    return 0.5 - 0.5 * np.tanh(distance / edge)


def _pattern(label: int, x, y, phase):
    """The class's picture as a mask in [0, 1] over coordinates x, y in about [-1, 1]."""
    wave = 2 * np.pi * 2.5  # 2.5 cycles per half-width: five stripes across the image
    if label in (0, 1, 2):  # stripes: horizontal, vertical, diagonal
        along = (y, x, (x + y) / np.sqrt(2))[label]
        return 0.5 + 0.5 * np.sin(wave * along + phase)
    if label == 3:  # checkerboard
        return _inside(-np.sin(2 * np.pi * x + phase) * np.sin(2 * np.pi * y + phase), 0.3)
    if label == 4:  # concentric rings
        return 0.5 + 0.5 * np.sin(wave * np.hypot(x, y) + phase)
    if label == 5:  # disc
        return _inside(np.hypot(x, y) - 0.55)
    if label == 6:  # a grid of dots
        return _inside(0.5 - np.cos(2 * np.pi * 1.75 * x + phase) * np.cos(2 * np.pi * 1.75 * y + phase), 0.3)
    if label == 7:  # cross
        return np.maximum(_inside(np.abs(x) - 0.18), _inside(np.abs(y) - 0.18))
    if label == 8:  # square outline
        return _inside(np.abs(np.maximum(np.abs(x), np.abs(y)) - 0.5) - 0.1)
    return _inside(np.maximum(-y - 0.45, 1.8 * np.abs(x) + y - 0.55))  # triangle


def render(rng: np.random.Generator, labels: np.ndarray, noise: float = NOISE) -> np.ndarray:
    """N×3×32×32 uint8 images for the given labels: each class's picture in its colour on a dark
    background, moved, turned, scaled and shifted in phase per image, with pixel noise of standard
    deviation ``noise`` (drawn last, so ``noise=0`` gives the same pictures without it)."""
    n = len(labels)
    grid = (np.arange(32) + 0.5) / 16 - 1
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    shift = rng.uniform(-0.2, 0.2, (n, 2, 1, 1))
    turn = rng.uniform(-0.2, 0.2, (n, 1, 1))
    scale = rng.uniform(0.85, 1.15, (n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    x, y = xx - shift[:, 0], yy - shift[:, 1]
    x, y = (np.cos(turn) * x - np.sin(turn) * y) / scale, (np.sin(turn) * x + np.cos(turn) * y) / scale
    mask = np.empty((n, 32, 32))
    for label in np.unique(labels):
        rows = labels == label
        mask[rows] = _pattern(int(label), x[rows], y[rows], phase[rows])
    # Brightness, tint, background and noise vary per image, not so much that a person looks twice.
    fg = _PALETTE[labels] * rng.uniform(0.8, 1.0, (n, 1)) + rng.normal(0, 0.06, (n, 3))
    bg = rng.uniform(0.03, 0.25, (n, 1)) + rng.normal(0, 0.04, (n, 3))
    # float32 and in place: the default 6,000 images are rendered in every process that checks them
    img = rng.standard_normal((n, 3, 32, 32), dtype=np.float32)
    img *= noise * 255
    img += (255 * bg[:, :, None, None]).astype(np.float32)
    img += mask.astype(np.float32)[:, None] * (255 * (fg - bg)[:, :, None, None]).astype(np.float32)
    return np.clip(np.rint(img, out=img), 0, 255, out=img).astype(np.uint8)
