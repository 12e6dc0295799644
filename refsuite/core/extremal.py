"""Values that break kernels, per dtype, and inputs rounded to a dtype together with the float64 copy
a reference is computed from.

The idea of PyTorch's ``test_reference_numerics_extremal`` (test/test_unary_ufuncs.py): every op also
sees NaN, ±inf, −0.0, the largest finite value, the smallest normal and the smallest subnormal of
the dtype it runs in. A reference computed from the unrounded float64 values would blame the op for
the rounding of its input, so :func:`rounded` rounds first and hands the reference what the op saw.
"""
from __future__ import annotations

import math

import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def short(dtype: torch.dtype) -> str:
    """``float16`` for ``torch.float16``: how messages name a dtype."""
    return str(dtype).removeprefix("torch.")


def smallest_subnormal(dtype: torch.dtype) -> float:
    """The smallest positive subnormal of a floating dtype (torch.finfo has no field for it)."""
    info = torch.finfo(dtype)
    # the subnormals step by tiny·eps: the last bit of the significand below the smallest normal
    return info.tiny * info.eps


def float_extremals(dtype: torch.dtype) -> dict[str, float]:
    """Name -> value of every extremal value of a floating dtype, each exactly representable in it."""
    info = torch.finfo(dtype)
    sub = smallest_subnormal(dtype)
    return {
        "nan": math.nan, "inf": math.inf, "-inf": -math.inf, "0.0": 0.0, "-0.0": -0.0,
        "max": info.max, "-max": -info.max, "tiny": info.tiny, "-tiny": -info.tiny,
        "subnormal": sub, "-subnormal": -sub, "1": 1.0, "-1": -1.0,
    }


def int_extremals(dtype: torch.dtype) -> dict[str, int]:
    """Name -> value of the boundary values of an integer dtype, where adding or multiplying wraps."""
    info = torch.iinfo(dtype)
    values = {"min": info.min, "min+1": info.min + 1, "0": 0, "1": 1, "2": 2, "max-1": info.max - 1, "max": info.max}
    if info.min < 0:
        values["-1"] = -1
    return values


def rounded(values: torch.Tensor, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``values`` rounded to ``dtype`` (on the CPU, so the device's conversion is not under test) and
    moved to ``device``, and the same rounded values as float64 on the CPU, for the reference."""
    x = values.detach().cpu().to(dtype)
    return x.to(device), x.to(torch.float64)


def dtypes_on(device, dtypes=FLOAT_DTYPES) -> tuple[list, list]:
    """(the dtypes of ``dtypes`` the device supports, the ones it lacks) — a unit names the latter."""
    have = [d for d in dtypes if device.supports(d)]
    return have, [d for d in dtypes if d not in have]


__all__ = ["FLOAT_DTYPES", "INT_DTYPES", "dtypes_on", "float_extremals", "int_extremals", "rounded", "short",
           "smallest_subnormal"]
