"""How close is close enough: torch.testing.assert_close's dtype table plus per-device overrides."""
from __future__ import annotations

from typing import Any, Mapping

import torch

#: The tutorial prints 4 decimals, so a true value lies within half a unit of the last digit.
GOLDEN_ATOL = 0.5e-4 + 1e-7  # the 1e-7 absorbs float32's own rounding at the boundary


def _as_tensor(x: Any) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x)


def error_stats(actual: torch.Tensor, expected: torch.Tensor) -> dict:
    """Largest absolute and relative error, in float64 on the CPU (for drift reports)."""
    a = actual.detach().cpu().to(torch.float64)
    e = expected.detach().cpu().to(torch.float64)
    if a.numel() == 0 or a.shape != e.shape:
        return {"max_abs_err": 0.0, "max_rel_err": 0.0}
    # Where either side is NaN or infinite there is no error to measure: the comparison itself says
    # whether those positions agree (equal_nan, matching infinities).
    finite = torch.isfinite(a) & torch.isfinite(e)
    if not bool(finite.all()):
        if not bool(finite.any()):
            return {"max_abs_err": 0.0, "max_rel_err": 0.0}
        a, e = a[finite], e[finite]
    diff = (a - e).abs()
    # Relative error only where the reference is not ~0: near zero only the absolute error means anything.
    magnitude = e.abs()
    rel = torch.where(magnitude > 1e-12, diff / magnitude, 0.0)
    return {"max_abs_err": float(diff.max()), "max_rel_err": float(rel.max())}


class TolerancePolicy:
    """Tolerances for one device: assert_close's defaults unless the device overrides a dtype."""

    def __init__(self, overrides: Mapping[torch.dtype, tuple[float, float]] | None = None) -> None:
        self.overrides = dict(overrides or {})

    def for_dtype(self, dtype: torch.dtype) -> dict:
        """Keyword arguments for assert_close; empty means torch's own defaults for ``dtype``."""
        if dtype in self.overrides:
            rtol, atol = self.overrides[dtype]
            return {"rtol": rtol, "atol": atol}
        return {}

    def assert_close(self, actual: Any, expected: Any, *, msg: str | None = None, equal_nan: bool = False,
                     **tolerances) -> dict:
        """Compare on the CPU in ``actual``'s dtype (the reference is cast to it).

        ``equal_nan``: NaN matches NaN; it keeps the dtype's tolerances (``rtol``/``atol`` replace them).

        References are usually computed in float64 or on the CPU; casting them to the
        result's dtype makes assert_close pick the tolerance that dtype deserves.
        Returns the error statistics so callers can record drift.
        """
        actual = _as_tensor(actual).detach().cpu()
        expected = _as_tensor(expected).detach().cpu()
        expected = expected.to(actual.dtype)
        kwargs = tolerances or self.for_dtype(actual.dtype)
        torch.testing.assert_close(actual, expected, msg=msg, equal_nan=equal_nan, **kwargs)
        return error_stats(actual, expected)

    def assert_golden(self, actual: Any, printed: Any) -> dict:
        """Compare with a value the tutorial printed at 4 decimals."""
        return self.assert_close(actual, torch.tensor(printed), rtol=0.0, atol=GOLDEN_ATOL)
