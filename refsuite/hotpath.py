"""The tutorial Net's conv/pool hot path, as stages, and a reordered path that is exactly equal.

``max_pool2d(relu(x)) == relu(max_pool2d(x))`` elementwise because ReLU is monotone
non-decreasing, so applying ReLU after pooling touches a quarter of the elements. The unit
``models.hotpath.pool_first_equals_tutorial_path`` proves outputs and gradients agree.
"""
from __future__ import annotations

import torch.nn.functional as F

from .nets import Net

#: multiply-accumulates per image, forward (issue #5's accounting)
MACS = {"conv1": 352_800, "conv2": 240_000, "linear": 58_920}


def flops_per_image(stage: str, backward: bool) -> int:
    """FLOPs (2 per MAC) per image; backward counts 2× forward except conv1's unneeded input gradient."""
    parts = {"conv1": ["conv1"], "conv2": ["conv2"], "both": ["conv1", "conv2"], "net": ["conv1", "conv2", "linear"]}[stage]
    total = 0
    for part in parts:
        fwd = MACS[part]
        total += fwd if not backward else fwd + (fwd if part == "conv1" else 2 * fwd)
    return 2 * total


def stage_fn(net: Net, stage: str, pool_first: bool = False):
    """A callable computing ``stage`` of the tutorial's Net or LeNet (the tutorial's order unless pool_first).

    The pool-first whole network flattens with ``reshape``, so it also accepts channels_last activations.
    """

    def block(conv, x):
        # both networks pool over 2×2 windows with stride 2 (Net's MaxPool2d(2, 2), LeNet's max_pool2d(x, 2))
        return F.relu(F.max_pool2d(conv(x), 2)) if pool_first else F.max_pool2d(F.relu(conv(x)), 2)

    if stage == "conv1":
        return lambda x: block(net.conv1, x)
    if stage == "conv2":
        return lambda x: block(net.conv2, x)
    if stage == "both":
        return lambda x: block(net.conv2, block(net.conv1, x))
    if stage == "net":
        if not pool_first:
            return net

        def forward(x):
            x = block(net.conv2, block(net.conv1, x)).reshape(-1, 16 * 5 * 5)
            return net.fc3(F.relu(net.fc2(F.relu(net.fc1(x)))))

        return forward
    raise ValueError(f"stage={stage!r}: choose conv1, conv2, both or net")


def stage_input_shape(stage: str, batch: int) -> tuple:
    return (batch, 6, 14, 14) if stage == "conv2" else (batch, 3, 32, 32)
