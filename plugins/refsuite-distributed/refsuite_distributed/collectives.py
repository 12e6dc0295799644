"""Collectives against a single-process reference: all_reduce (sum, avg, max), broadcast from each
root, all_gather and reduce_scatter in rank order, over the device's dtypes and memory layouts.

Every rank makes its input from a seed and its rank, so every rank can also make every other
rank's input and compute, alone, what the collective must give. A dtype the backend refuses
(gloo has no int16) is counted, not failed, except float32: a backend that cannot move float32
cannot train. Views with gaps between their elements (a strided slice) have a unit of their own,
which a backend passes by handling them or by refusing them. A refusal is raised on every rank before anything is sent, so the ranks stay in step.
"""
from __future__ import annotations

import functools

import torch
import torch.distributed as dist

from refsuite import Requires, UnitGroup
from refsuite.core import strategies as rst

from .world import Findings, needs, rank_and_size

units = UnitGroup()

_SHAPE = (2, 3, 4, 5)
#: layouts whose elements fill one block of memory without gaps, which every backend must handle
_DENSE = ("contiguous", "transposed", "offset", "channels_last")
#: a view with gaps between its elements, written into: right, or refused (nccl refuses it)
_NON_DENSE = ("sliced",)
#: what a backend says when it does not take a dtype or an operation (raised before any data moves)
_REFUSALS = (RuntimeError, ValueError, TypeError, NotImplementedError)


def _layouts(names=rst.LAYOUTS):
    return [layout for layout, _ in rst.each_layout(torch.empty(_SHAPE), names)]


def rank_input(dtype: torch.dtype, rank: int, case: int) -> torch.Tensor:
    """Rank ``rank``'s input for case ``case``, on the CPU: small integers, so integer sums are exact."""
    g = torch.Generator().manual_seed(7919 * case + rank)
    if dtype == torch.bool:
        return torch.randint(0, 2, _SHAPE, generator=g).bool()
    if dtype.is_floating_point:
        return torch.randn(_SHAPE, generator=g).to(dtype)
    return torch.randint(0 if dtype == torch.uint8 else -3, 4, _SHAPE, generator=g).to(dtype)


def _broke(exc: BaseException) -> bool:
    """A collective that failed while communicating (a timeout, a rank gone), not a refusal."""
    return isinstance(exc, getattr(dist, "DistError", ())) or "timed out" in str(exc).lower()


class Sweep:
    """One collective over every dtype × layout of the device, each case checked, all collected."""

    def __init__(self, ctx, what: str, dtypes=None, layouts=_DENSE, must_take=(torch.float32,)) -> None:
        self.ctx, self.what = ctx, what
        self.findings = Findings(what)
        self.refused: list[str] = []
        self.dtypes = sorted(dtypes if dtypes is not None else ctx.device.dtypes, key=str)
        self.layouts = _layouts(layouts)
        self.rank, self.size = rank_and_size()
        #: dtypes the backend must not refuse
        self.must_take = must_take

    def cases(self):
        """(case number, dtype, layout) for every case, the same sequence on every rank."""
        n = 0
        for dtype in self.dtypes:
            for layout in self.layouts:
                n += 1
                yield n, dtype, layout

    def run(self, dtype: torch.dtype, layout, call) -> bool:
        """Make the collective call; False (and counted) when the backend refuses the dtype."""
        try:
            call()
        except _REFUSALS as exc:
            if _broke(exc):
                raise
            said = (str(exc).strip().splitlines() or [""])[0][:160]
            if dtype in self.must_take:
                self.findings.add(f"{dtype} {layout}", f"the backend refused {dtype}: {type(exc).__name__}: {said}")
            elif str(dtype) not in " ".join(self.refused):
                self.refused.append(f"{dtype} ({type(exc).__name__}: {said})")
            return False
        return True

    def compare(self, actual: torch.Tensor, expected: torch.Tensor, where: str) -> None:
        self.findings.check(where, lambda: self.ctx.assert_close(actual.cpu(), expected, what=self.what, where=where))

    def finish(self) -> None:
        self.ctx.record_metric("dtypes_refused_by_backend", len(self.refused))
        self.findings.raise_if_any()


def _all_reduce(ctx, sweep: Sweep, op_name: str, reduce) -> None:
    op = getattr(dist.ReduceOp, op_name.upper())
    for case, dtype, layout in sweep.cases():
        inputs = [layout.apply(rank_input(dtype, r, case)) for r in range(sweep.size)]
        x = layout.apply(rank_input(dtype, sweep.rank, case).to(ctx.torch_device))
        if sweep.run(dtype, layout, lambda: torch.distributed.all_reduce(x, op=op)):
            sweep.compare(x, reduce(inputs, dtype), f"{op_name} {dtype} {layout}")


def _sum(inputs, dtype):
    return functools.reduce(torch.add, inputs)


def _mean(inputs, dtype):
    return (functools.reduce(torch.add, [x.double() for x in inputs]) / len(inputs)).to(dtype)


def _max(inputs, dtype):
    return functools.reduce(torch.maximum, inputs)


def _broadcast(ctx, sweep: Sweep) -> None:
    for case, dtype, layout in sweep.cases():
        for root in range(sweep.size):
            x = layout.apply(rank_input(dtype, sweep.rank, case).to(ctx.torch_device))
            if sweep.run(dtype, layout, lambda: torch.distributed.broadcast(x, src=root)):
                sweep.compare(x, layout.apply(rank_input(dtype, root, case)), f"{dtype} {layout} from rank {root}")


def _reduce_scatter(ctx, sweep: Sweep) -> None:
    for case, dtype, layout in sweep.cases():
        # rank r's k-th tensor is part(r, k); rank i must end with the sum over r of part(r, i)
        def part(r: int, k: int) -> torch.Tensor:
            return layout.apply(rank_input(dtype, r, case * sweep.size + k))

        parts = [layout.apply(part(sweep.rank, k).to(ctx.torch_device)) for k in range(sweep.size)]
        out = layout.apply(torch.zeros(_SHAPE, dtype=dtype, device=ctx.torch_device))
        if sweep.run(dtype, layout, lambda: torch.distributed.reduce_scatter(out, parts)):
            sweep.compare(out, _sum([part(r, sweep.rank) for r in range(sweep.size)], dtype), f"{dtype} {layout}")


@units.unit("distributed.all_reduce.sum_matches_a_single_process_sum", requires=Requires(device_check=needs("sum")))
def all_reduce_sum(ctx):
    """all_reduce(SUM) gives every rank the sum of all ranks' tensors, in every dtype and dense layout of the device."""
    sweep = Sweep(ctx, "all_reduce sum")
    _all_reduce(ctx, sweep, "sum", _sum)
    sweep.finish()


@units.unit("distributed.all_reduce.avg_matches_a_single_process_mean", requires=Requires(device_check=needs("avg")))
def all_reduce_avg(ctx):
    """all_reduce(AVG) gives every rank the mean of all ranks' tensors, in every floating dtype and dense layout."""
    sweep = Sweep(ctx, "all_reduce avg", [d for d in ctx.device.dtypes if d.is_floating_point])
    _all_reduce(ctx, sweep, "avg", _mean)
    sweep.finish()


@units.unit("distributed.all_reduce.max_matches_a_single_process_max", requires=Requires(device_check=needs("max")))
def all_reduce_max(ctx):
    """all_reduce(MAX) gives every rank the elementwise maximum over ranks, in every dtype and dense layout."""
    sweep = Sweep(ctx, "all_reduce max")
    _all_reduce(ctx, sweep, "max", _max)
    sweep.finish()


@units.unit("distributed.broadcast.copies_each_root_to_every_rank", requires=Requires(device_check=needs("broadcast")))
def broadcast(ctx):
    """broadcast from each rank in turn leaves every rank holding that root's tensor, in every dtype and dense layout."""
    sweep = Sweep(ctx, "broadcast")
    _broadcast(ctx, sweep)
    sweep.finish()


@units.unit("distributed.reduce_scatter.gives_each_rank_its_reduced_share",
            requires=Requires(device_check=needs("reduce_scatter")))
def reduce_scatter(ctx):
    """reduce_scatter(SUM) gives rank i the sum over ranks of their i-th tensor, in every dtype and dense layout."""
    sweep = Sweep(ctx, "reduce_scatter sum")
    _reduce_scatter(ctx, sweep)
    sweep.finish()


def _holder(got: torch.Tensor, inputs: list) -> str:
    """Whose input a wrong all_gather slot holds, if anyone's."""
    owners = [r for r, x in enumerate(inputs) if torch.equal(got.cpu(), x)]
    return f"it holds rank {owners[0]}'s tensor" if owners else "it holds no rank's tensor"


@units.unit("distributed.all_gather.returns_tensors_in_rank_order", requires=Requires(device_check=needs("all_gather")))
def all_gather(ctx):
    """all_gather puts rank i's tensor at position i on every rank, from inputs in every dtype and layout."""
    sweep = Sweep(ctx, "all_gather", layouts=rst.LAYOUTS)
    for case, dtype, layout in sweep.cases():
        inputs = [layout.apply(rank_input(dtype, r, case)) for r in range(sweep.size)]
        x = layout.apply(rank_input(dtype, sweep.rank, case).to(ctx.torch_device))
        out = [torch.zeros(_SHAPE, dtype=dtype, device=ctx.torch_device) for _ in range(sweep.size)]
        if sweep.run(dtype, layout, lambda: torch.distributed.all_gather(out, x)):
            for i, got in enumerate(out):
                if not torch.equal(got.cpu(), inputs[i]):
                    sweep.findings.add(f"{dtype} {layout}", f"position {i} is not rank {i}'s tensor: {_holder(got, inputs)}")
            sweep.compare(torch.stack(out), torch.stack(inputs), f"{dtype} {layout}")
    sweep.finish()


@units.unit("distributed.layouts.views_with_gaps_are_written_right_or_refused",
            requires=Requires(device_check=needs("non_dense")))
def views_with_gaps(ctx):
    """all_reduce, broadcast and reduce_scatter into a strided slice (a view with gaps) give the right values, or refuse it."""
    sweep = Sweep(ctx, "collectives into views with gaps", layouts=_NON_DENSE, must_take=())
    _all_reduce(ctx, sweep, "sum", _sum)
    _broadcast(ctx, sweep)
    _reduce_scatter(ctx, sweep)
    sweep.finish()
