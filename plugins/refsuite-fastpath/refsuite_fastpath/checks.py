"""The contract every fused kernel call must meet, checked before any pointer reaches a kernel.

The kernels compute ``relu(max_pool2d(conv2d(x, weight, bias), 2))`` for 5×5 kernels, stride 1, no
padding, 2×2 pooling with stride 2, on contiguous NCHW float32 tensors; ``which`` says, per pooled
output, which of the window's four positions won (0..3 in raster order, int8).
"""
from __future__ import annotations

import dataclasses

import torch

KERNEL = 5
WINNER_DTYPE = torch.int8


@dataclasses.dataclass(frozen=True)
class Geometry:
    batch: int
    channels: int
    height: int
    width: int
    kernels: int

    @property
    def pooled(self) -> tuple[int, int]:
        return (self.height - KERNEL + 1) // 2, (self.width - KERNEL + 1) // 2

    @property
    def pooled_shape(self) -> tuple[int, int, int, int]:
        return (self.batch, self.kernels, *self.pooled)


def _tensor(name: str, t, dtype: torch.dtype, shape: tuple | None, device: torch.device | None) -> None:
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be a tensor, got {type(t).__name__}")
    if t.dtype != dtype:
        raise ValueError(f"{name} must be {dtype}, got {t.dtype}")
    if shape is not None and tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(t.shape)}")
    if device is not None and t.device != device:
        raise ValueError(f"{name} is on {t.device}, the input on {device}")
    if not t.is_contiguous():
        raise ValueError(f"{name} must be contiguous (NCHW), got strides {t.stride()}")


def _input_shape(x_shape, max_channels: int | None) -> tuple[int, int, int, int]:
    x_shape = tuple(x_shape)
    if len(x_shape) != 4:
        raise ValueError(f"the input must be 4-D (N, C, H, W), got shape {x_shape}")
    b, c, h, w = x_shape
    if h < KERNEL + 1 or w < KERNEL + 1:
        raise ValueError(f"the input must be at least {KERNEL + 1}×{KERNEL + 1} (one pooling window), got {h}×{w}")
    if max_channels is not None and not 1 <= c <= max_channels:
        raise ValueError(f"these kernels take 1 to {max_channels} input channels, got {c}")
    return b, c, h, w


def _weight(weight, channels: int, device: torch.device) -> int:
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        raise ValueError(f"weight must be a 4-D tensor (K, C, 5, 5), got {getattr(weight, 'shape', weight)!r}")
    _tensor("weight", weight, torch.float32, (weight.shape[0], channels, KERNEL, KERNEL), device)
    return weight.shape[0]


def _pooled(geo: Geometry, device: torch.device, **tensors) -> None:
    """``gy``, ``y`` and ``which`` have the forward output's shape."""
    for name, t in tensors.items():
        _tensor(name, t, WINNER_DTYPE if name == "which" else torch.float32, geo.pooled_shape, device)


def _device(name: str, t) -> torch.device:
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be a tensor, got {type(t).__name__}")
    return t.device


def forward_args(x, weight, bias, *, max_channels: int | None = None) -> Geometry:
    device = _device("x", x)
    b, c, h, w = _input_shape(x.shape, max_channels)
    _tensor("x", x, torch.float32, None, device)
    k = _weight(weight, c, device)
    _tensor("bias", bias, torch.float32, (k,), device)
    return Geometry(b, c, h, w, k)


def input_grad_args(x_shape, weight, gy, y, which, *, max_channels: int | None = None) -> Geometry:
    device = _device("y", y)
    b, c, h, w = _input_shape(x_shape, max_channels)
    geo = Geometry(b, c, h, w, _weight(weight, c, device))
    _pooled(geo, device, gy=gy, y=y, which=which)
    return geo


def weight_grad_args(x, gy, y, which, *, max_channels: int | None = None) -> Geometry:
    device = _device("x", x)
    b, c, h, w = _input_shape(x.shape, max_channels)
    _tensor("x", x, torch.float32, None, device)
    if not isinstance(y, torch.Tensor) or y.dim() != 4:
        raise ValueError(f"y must be the forward output (N, K, PH, PW), got {getattr(y, 'shape', y)!r}")
    geo = Geometry(b, c, h, w, y.shape[1])
    _pooled(geo, device, gy=gy, y=y, which=which)
    return geo
