"""A pytest plugin that plants one fault in torch, in every rank: each torchrun worker loads it with
``-p planted_faults`` (this directory on PYTHONPATH) and reads which fault from
REFSUITE_PLANTED_FAULT. It replaces torch's functions, never a unit's code; the one exception lifts
a skip, so that a unit meets a backend's real defect."""
from __future__ import annotations

import os
import time

import torch
import torch.distributed as dist

from refsuite_distributed import world

_all_reduce, _all_gather = dist.all_reduce, dist.all_gather
_broadcast, _reduce_scatter = dist.broadcast, dist.reduce_scatter
_DDP = torch.nn.parallel.DistributedDataParallel
_sampler_init = torch.utils.data.DistributedSampler.__init__


def averaging_all_reduce(tensor, op=dist.ReduceOp.SUM, group=None, async_op=False):
    """SUM that divides by the world size, as AVG does."""
    work = _all_reduce(tensor, op=op, group=group, async_op=async_op)
    if op == dist.ReduceOp.SUM and tensor.dtype.is_floating_point:
        tensor.div_(dist.get_world_size(group))
    return work


def op_swapped(asked, done):
    """An all_reduce that reduces with ``done`` where ``asked`` was asked for."""
    def all_reduce(tensor, op=dist.ReduceOp.SUM, group=None, async_op=False):
        return _all_reduce(tensor, op=done if op == asked else op, group=group, async_op=async_op)
    return all_reduce


def broadcast_from_rank_0(tensor, src=None, group=None, async_op=False, **kwargs):
    """Whatever the root asked for, rank 0's tensor."""
    return _broadcast(tensor, src=0, group=group, async_op=async_op, **kwargs)


def reversed_reduce_scatter(output, input_list, op=dist.ReduceOp.SUM, group=None, async_op=False):
    """Each rank gets the share of the rank at the other end."""
    return _reduce_scatter(output, list(reversed(input_list)), op=op, group=group, async_op=async_op)


def reversed_all_gather(tensor_list, tensor, group=None, async_op=False):
    """The gathered tensors in reverse rank order."""
    work = _all_gather(tensor_list, tensor, group=group, async_op=async_op)
    gathered = [t.clone() for t in tensor_list]
    for slot, value in zip(tensor_list, reversed(gathered)):
        slot.copy_(value)
    return work


def _summing_hook(state, bucket):
    # DDP's own hook divides by the world size before the all_reduce; this one does not
    return _all_reduce(bucket.buffer(), async_op=True).get_future().then(lambda fut: fut.value()[0])


class SummingDDP(_DDP):
    """DDP whose gradients are summed over ranks, not averaged."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_comm_hook(None, _summing_hook)


def every_rank_zero(self, dataset, num_replicas=None, rank=None, *args, **kwargs):
    """A DistributedSampler that gives every rank rank 0's share."""
    _sampler_init(self, dataset, num_replicas, 0, *args, **kwargs)


def all_reduce_hangs_on_rank_1(tensor, *args, **kwargs):
    """Rank 1 never joins the all_reduce."""
    if dist.get_rank() == 1:
        time.sleep(3600)
    return _all_reduce(tensor, *args, **kwargs)


FAULTS = {
    "all_reduce_averages": (dist, "all_reduce", averaging_all_reduce),
    "all_reduce_avg_sums": (dist, "all_reduce", op_swapped(dist.ReduceOp.AVG, dist.ReduceOp.SUM)),
    "all_reduce_max_is_min": (dist, "all_reduce", op_swapped(dist.ReduceOp.MAX, dist.ReduceOp.MIN)),
    "broadcast_from_rank_0": (dist, "broadcast", broadcast_from_rank_0),
    "reduce_scatter_reversed": (dist, "reduce_scatter", reversed_reduce_scatter),
    "all_gather_reversed": (dist, "all_gather", reversed_all_gather),
    "ddp_sums_gradients": (torch.nn.parallel, "DistributedDataParallel", SummingDDP),
    "sampler_same_share": (torch.utils.data.DistributedSampler, "__init__", every_rank_zero),
    "all_reduce_hangs": (dist, "all_reduce", all_reduce_hangs_on_rank_1),
    # gloo writes views with gaps wrong for real; with its skip lifted, the unit meets that defect
    "gloo_defects_unlisted": (world, "_GLOO_WRONG", {}),
}


def pytest_configure(config):
    name = os.environ.get("REFSUITE_PLANTED_FAULT")
    if name:
        owner, attr, fault = FAULTS[name]
        setattr(owner, attr, fault)
