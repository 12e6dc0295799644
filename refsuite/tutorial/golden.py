"""The tutorial's printed outputs (the golden references) and a replay of its RNG stream.

The tutorial script is deterministic up to the CIFAR-10 download: replaying its calls in
order on the CPU's default generator reproduces every number it prints, including the
untrained LeNet's raw output.
"""
from __future__ import annotations

import dataclasses

import torch

from .nets import LeNet

SEED = 1729

# "PyTorch Tensors"
ZEROS_REPR = """tensor([[0., 0., 0.],
        [0., 0., 0.],
        [0., 0., 0.],
        [0., 0., 0.],
        [0., 0., 0.]])"""
ONES_INT16_REPR = """tensor([[1, 1, 1],
        [1, 1, 1],
        [1, 1, 1],
        [1, 1, 1],
        [1, 1, 1]], dtype=torch.int16)"""
RAND_AFTER_SEED = [[0.3126, 0.3791], [0.3087, 0.0736]]
RAND_NEXT = [[0.4216, 0.0691], [0.2332, 0.4047]]
R = [[0.9956, -0.2232], [0.3858, -0.6593]]
ABS_R = [[0.9956, 0.2232], [0.3858, 0.6593]]
ASIN_R = [[1.4775, -0.2251], [0.3961, -0.7199]]
DET_R = -0.5703
SVD_U = [[-0.8353, -0.5497], [-0.5497, 0.8353]]
SVD_S = [1.1793, 0.4836]
SVD_V = [[-0.8851, -0.4654], [0.4654, -0.8851]]
STD_MEAN_R = (0.7217, 0.1247)
MAX_R = 0.9956

# "PyTorch Models"
LENET_REPR = """LeNet(
  (conv1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))
  (conv2): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))
  (fc1): Linear(in_features=400, out_features=120, bias=True)
  (fc2): Linear(in_features=120, out_features=84, bias=True)
  (fc3): Linear(in_features=84, out_features=10, bias=True)
)"""
LENET_OUTPUT = [[0.0898, 0.0318, 0.1485, 0.0301, -0.0085, -0.1135, -0.0296, 0.0164, 0.0039, 0.0616]]
LENET_PARAMETERS = 61_706
NET_PARAMETERS = 62_006

# "Datasets and Dataloaders"
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
#: The tutorial's class names are CIFAR-10's label_names with two abbreviated.
ABBREVIATIONS = {"airplane": "plane", "automobile": "car"}
CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclasses.dataclass(frozen=True)
class Replay:
    """Tensors the tutorial creates, regenerated in its order on the CPU."""

    rand_after_seed: torch.Tensor
    rand_next: torch.Tensor
    rand_reseeded: torch.Tensor
    r: torch.Tensor
    lenet: LeNet
    lenet_input: torch.Tensor


def replay() -> Replay:
    """Replay the tutorial's RNG stream without disturbing the caller's global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        r1 = torch.rand(2, 2)
        r2 = torch.rand(2, 2)
        torch.manual_seed(SEED)
        r3 = torch.rand(2, 2)
        torch.rand(2, 3)  # the arithmetic example's r1 and r2 consume the stream too
        torch.rand(3, 2)
        r = (torch.rand(2, 2) - 0.5) * 2
        lenet = LeNet()
        lenet_input = torch.rand(1, 1, 32, 32)
    return Replay(r1, r2, r3, r, lenet, lenet_input)
