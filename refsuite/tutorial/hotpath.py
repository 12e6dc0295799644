"""The tutorial Net's conv/pool hot path, as stages, and a reordered path that is exactly equal.

``max_pool2d(relu(x)) == relu(max_pool2d(x))`` elementwise because ReLU is monotone
non-decreasing, so applying ReLU after pooling touches a quarter of the elements. The unit
``models.hotpath.pool_first_equals_tutorial_path`` proves outputs and gradients agree.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .nets import Net

#: multiply-accumulates per image, forward: conv1 6×3×5×5 at 28×28, conv2 16×6×5×5 at 10×10, fc1..fc3
MACS = {"conv1": 352_800, "conv2": 240_000, "linear": 58_920}


def flops_per_image(stage: str, backward: bool) -> int:
    """FLOPs (2 per MAC) per image; backward counts 2× forward except conv1's unneeded input gradient."""
    parts = {"conv1": ["conv1"], "conv2": ["conv2"], "both": ["conv1", "conv2"], "net": ["conv1", "conv2", "linear"]}[stage]
    total = 0
    for part in parts:
        fwd = MACS[part]
        total += fwd if not backward else fwd + (fwd if part == "conv1" else 2 * fwd)
    return 2 * total


def stage_fn(net: Net, stage: str, pool_first: bool = False, block=None):
    """A callable computing ``stage`` of the tutorial's Net or LeNet (the tutorial's order unless pool_first).

    ``block(conv, x)`` replaces each conv→ReLU→pool block (refsuite's fused kernels); a replaced
    or pool-first whole network flattens with ``reshape``, so it also accepts channels_last activations.
    """

    def tutorial_block(conv, x):
        # both networks pool over 2×2 windows with stride 2 (Net's MaxPool2d(2, 2), LeNet's max_pool2d(x, 2))
        return F.relu(F.max_pool2d(conv(x), 2)) if pool_first else F.max_pool2d(F.relu(conv(x)), 2)

    block = block or tutorial_block
    if stage == "conv1":
        return lambda x: block(net.conv1, x)
    if stage == "conv2":
        return lambda x: block(net.conv2, x)
    if stage == "both":
        return lambda x: block(net.conv2, block(net.conv1, x))
    if stage == "net":
        if not pool_first and block is tutorial_block:
            return net

        def forward(x):
            x = block(net.conv2, block(net.conv1, x)).reshape(-1, 16 * 5 * 5)
            return net.fc3(F.relu(net.fc2(F.relu(net.fc1(x)))))

        return forward
    raise ValueError(f"stage={stage!r}: choose conv1, conv2, both or net")


def stage_input_shape(stage: str, batch: int) -> tuple:
    return (batch, 6, 14, 14) if stage == "conv2" else (batch, 3, 32, 32)


def decision_margin(net: Net, stage: str, x) -> float:
    """How far ``x`` is from flipping a discrete choice of ``stage``: the smallest gap between a
    pooling window's two largest outputs, or between a ReLU input and zero (float64, on the CPU).

    Two correct float32 implementations (another memory layout, another kernel) differ in the last
    bits; where a window holds a near-tie they may pick different maxima and route a whole patch's
    gradient elsewhere. Units that compare implementations reject inputs whose margin is below
    what float32 rounding can move.
    """
    params = {name: p.detach().cpu().double() for name, p in net.named_parameters()}
    x = x.detach().cpu().double()
    gaps = []

    def block(name, x):
        conv = F.conv2d(x, params[f"{name}.weight"], params[f"{name}.bias"])
        h, w = conv.shape[2] // 2 * 2, conv.shape[3] // 2 * 2
        windows = conv[..., :h, :w].unflatten(3, (w // 2, 2)).unflatten(2, (h // 2, 2))
        windows = windows.permute(0, 1, 2, 4, 3, 5).flatten(-2)  # (..., PH, PW, 4)
        top2 = windows.topk(2, dim=-1).values
        gaps.append((top2[..., 0] - top2[..., 1]).min())
        gaps.append(top2[..., 0].abs().min())
        return top2[..., 0].clamp(min=0)

    if stage in ("conv1", "both", "net"):
        x = block("conv1", x)
    if stage in ("conv2", "both", "net"):
        x = block("conv2", x)
    if stage == "net":
        for name in ("fc1", "fc2"):
            x = F.linear(x.flatten(1), params[f"{name}.weight"], params[f"{name}.bias"])
            gaps.append(x.abs().min())
            x = x.clamp(min=0)
    return float(torch.stack(gaps).min())
