"""The process group the units run in, and why a unit cannot run here.

refsuite joins the ranks torchrun started into one process group before any unit runs (the
backend is the device type's: gloo on cpu, nccl on cuda), so the units only use it. Every rank
runs the same units in the same order, so each unit makes the same collective calls on every
rank whatever it finds: it collects what is wrong and fails at its end (:class:`Findings`), as
a rank that stopped half-way would leave the others waiting on it.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist

LAUNCH = ("`torchrun --nproc-per-node 2 -m refsuite run -k distributed` "
          "or `refsuite run --nproc 2 -k distributed`")

#: collectives the gloo backend gained later than the oldest torch refsuite supports
_GLOO_SINCE = {
    "avg": ("2.8", "ProcessGroupGloo has ReduceOp.AVG from torch 2.8 (pytorch/pytorch#149781)"),
    "reduce_scatter": ("2.8", "ProcessGroupGloo has reduce_scatter from torch 2.8 (pytorch/pytorch#149869)"),
}

#: what gloo gets wrong without refusing it, in every torch refsuite knows of
_GLOO_WRONG = {
    "non_dense": ("ProcessGroupGloo sends and writes a view with gaps (a strided slice) as if its elements were "
                  "contiguous, so broadcast, all_reduce and reduce_scatter return wrong values without an error "
                  "(pytorch/pytorch#192920, open; nccl refuses such views): a known gloo defect, not checked here"),
}


def not_launched(device) -> str | None:
    """Why the distributed units cannot run in this process, or None (a ``Requires.device_check``)."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return f"not launched by torchrun (no WORLD_SIZE/RANK in the environment): run {LAUNCH}"
    if not dist.is_available():
        return "this torch was built without torch.distributed"
    if not dist.is_initialized():
        return ("launched by torchrun, but no process group was made: run the units through refsuite "
                f"({LAUNCH}), which joins the ranks before the first unit")
    return None


def needs(collective: str):
    """A device check: launched, and the group's backend has ``collective`` in this torch."""

    def check(device) -> str | None:
        problem = not_launched(device)
        if problem is None and dist.get_backend() == "gloo" and collective in _GLOO_WRONG:
            problem = _GLOO_WRONG[collective]
        if problem is None and dist.get_backend() == "gloo" and collective in _GLOO_SINCE:
            since, why = _GLOO_SINCE[collective]
            if torch.torch_version.TorchVersion(torch.__version__) < since:
                problem = f"{why}; this is torch {torch.__version__}"
        return problem

    check.__name__ = f"torchrun_{collective}"
    return check


def rank_and_size() -> tuple[int, int]:
    return dist.get_rank(), dist.get_world_size()


class Findings:
    """What a unit found wrong, kept until every rank has made all of the unit's collective calls."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.wrong: list[str] = []

    def check(self, where: str, compare) -> None:
        """Run ``compare()`` (which asserts); a failure is kept with ``where``, not raised."""
        try:
            compare()
        except AssertionError as exc:
            lines = [line for line in str(exc).splitlines() if line.strip()]
            self.wrong.append(f"{where}: {' '.join(lines[:3])}")

    def add(self, where: str, message: str) -> None:
        self.wrong.append(f"{where}: {message}")

    def raise_if_any(self) -> None:
        if self.wrong:
            rank, size = rank_and_size()
            shown = "\n  ".join(self.wrong[:12]) + (f"\n  ... and {len(self.wrong) - 12} more" if len(self.wrong) > 12 else "")
            raise AssertionError(f"{self.what} on rank {rank} of {size}: {len(self.wrong)} case(s) wrong:\n  {shown}")
