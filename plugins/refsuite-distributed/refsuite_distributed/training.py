"""Data-parallel training: DDP of the tutorial's Net equals one process on the whole batch, and
DistributedSampler splits every epoch among the ranks."""
from __future__ import annotations

import copy

import torch
import torch.distributed as dist

from refsuite import Requires, UnitGroup
from refsuite.tutorial.nets import Net

from .world import Findings, needs, rank_and_size

units = UnitGroup()

#: images per rank per step, as the tutorial's loader gives them
_PER_RANK = 4
_STEPS = 3


def _batches(world: int):
    """The global batch of each step: the same on every rank (a seeded generator)."""
    g = torch.Generator().manual_seed(1729)
    for _ in range(_STEPS):
        yield torch.randn(_PER_RANK * world, 3, 32, 32, generator=g), torch.randint(0, 10, (_PER_RANK * world,), generator=g)


@units.unit("distributed.ddp.matches_single_process_training_on_the_whole_batch",
            requires=Requires(device_check=needs("ddp")))
def ddp_equals_whole_batch(ctx):
    """DDP of the tutorial's Net, each rank on its share of the batch, has the gradients and weights of one process on all of it."""
    rank, world = rank_and_size()
    device = ctx.torch_device
    torch.manual_seed(0)  # refsuite restores the global RNG around every unit
    reference = Net().to(device)
    model = torch.nn.parallel.DistributedDataParallel(copy.deepcopy(reference))
    criterion = torch.nn.CrossEntropyLoss()
    opt_ref = torch.optim.SGD(reference.parameters(), lr=0.001, momentum=0.9)
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    findings = Findings("DDP against one process on the whole batch")
    share = slice(rank * _PER_RANK, (rank + 1) * _PER_RANK)
    for step, (images, labels) in enumerate(_batches(world)):
        images, labels = images.to(device), labels.to(device)
        for net, optimizer, x, y in ((model, opt, images[share], labels[share]), (reference, opt_ref, images, labels)):
            optimizer.zero_grad()
            criterion(net(x), y).backward()
        for (name, p), r in zip(model.module.named_parameters(), reference.parameters()):
            findings.check(f"step {step} {name}.grad", lambda: ctx.assert_close(
                p.grad, r.grad, what="DDP gradient vs whole-batch gradient", where=f"step {step}, {name}"))
        opt.step()
        opt_ref.step()
    for (name, p), r in zip(model.module.named_parameters(), reference.parameters()):
        findings.check(f"{name} after {_STEPS} steps", lambda: ctx.assert_close(
            p.detach(), r.detach(), what="DDP weights vs whole-batch weights", where=f"after {_STEPS} steps, {name}"))
    findings.raise_if_any()


def _check_epoch(findings: Findings, where: str, shares: list, n: int, drop_last: bool) -> None:
    """The documented split: equal shares; disjoint, unless padding a length the ranks do not divide;
    together all of the dataset (or, with drop_last, all but fewer than one index per rank)."""
    world = len(shares)
    sizes = {len(s) for s in shares}
    if len(sizes) != 1:
        findings.add(where, f"ranks got shares of different sizes {[len(s) for s in shares]} (DDP would hang)")
        return
    taken = [i for s in shares for i in s]
    seen = set(taken)
    padded = 0 if drop_last or n % world == 0 else world - n % world
    if len(taken) - len(seen) != padded:
        twice = sorted(i for i in seen if taken.count(i) > 1)[:5]
        findings.add(where, f"{len(taken) - len(seen)} indices given to more than one rank (e.g. {twice}); "
                            f"expected {padded} (the padding)")
    expected = n - n % world if drop_last else n
    if len(seen) != expected or not seen <= set(range(n)):
        missing = sorted(set(range(n)) - seen)[:5]
        findings.add(where, f"the ranks together cover {len(seen)} of {n} indices (expected {expected}; missing e.g. {missing})")


@units.unit("distributed.sampler.splits_every_epoch_among_the_ranks", requires=Requires(device_check=needs("sampler")))
def sampler_splits(ctx):
    """DistributedSampler gives each rank an equal, disjoint share of every epoch, and the ranks together all of it."""
    rank, world = rank_and_size()
    findings = Findings("DistributedSampler's shares")
    for n in (8 * world, 8 * world + 1, 3):
        for shuffle in (False, True):
            for drop_last in (False, True):
                sampler = torch.utils.data.DistributedSampler(range(n), num_replicas=world, rank=rank,
                                                              shuffle=shuffle, seed=5, drop_last=drop_last)
                for epoch in range(3):
                    sampler.set_epoch(epoch)
                    shares = [None] * world
                    dist.all_gather_object(shares, list(sampler))
                    _check_epoch(findings, f"n={n} shuffle={shuffle} drop_last={drop_last} epoch {epoch}",
                                 shares, n, drop_last)
    findings.raise_if_any()
