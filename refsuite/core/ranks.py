"""The ranks of a torchrun launch: who this process is, the process group it joins, and every
rank's outcomes gathered by rank 0 at the end.

refsuite does not launch processes: torchrun does (``torchrun --nproc-per-node N -m refsuite run``,
or ``refsuite run --nproc N``, which calls torchrun's own entry point), and sets RANK, WORLD_SIZE
and LOCAL_RANK in each. Every rank runs the same units; rank 0 reports for all of them.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import time
from typing import Mapping

from .errors import UsageError

#: the store keys each rank leaves its outcomes under (one launch may restart its workers)
_KEY = "refsuite/outcomes/{restart}/{rank}"
#: outcomes another rank hands over: everything but a pass or a skip
_REPORTED = ("failed", "error", "xfailed")


@dataclasses.dataclass(frozen=True)
class World:
    rank: int
    size: int
    local_rank: int

    @property
    def leader(self) -> bool:
        """Rank 0: the one that prints the report, writes the record and gives the verdict."""
        return self.rank == 0


def from_env(environ: Mapping[str, str] = os.environ) -> World | None:
    """This process's place in a torchrun launch, or None outside one (no RANK/WORLD_SIZE)."""
    if "RANK" not in environ or "WORLD_SIZE" not in environ:
        return None
    values = {k: environ.get(k, "0" if k == "LOCAL_RANK" else "") for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    try:
        rank, size, local = (int(values[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    except ValueError:
        shown = " ".join(f"{k}={v!r}" for k, v in values.items())
        raise UsageError(f"the environment names a distributed launch with {shown}: each must be an integer "
                         "(torchrun sets them)") from None
    if not 0 <= rank < size:
        raise UsageError(f"RANK={rank} is outside WORLD_SIZE={size} (ranks run from 0 to WORLD_SIZE-1)")
    return World(rank, size, local)


def backend_for(device_type) -> str:
    """The process-group backend for a device type: the type's own ``distributed_backend`` where
    its plugin names one, else torch's choice for the type (gloo on cpu, nccl on cuda), else gloo."""
    named = getattr(device_type, "distributed_backend", None)
    if named:
        return named
    import torch.distributed as dist

    return dist.Backend.default_device_backend_map.get(device_type.name, "gloo")


def join(world: World, device_type, timeout_s: float) -> str:
    """Join this launch's process group (once) and return its backend.

    ``timeout_s`` bounds every collective: one that hangs (a rank that never calls it) fails
    after it with the backend's error, which names the operation, in the unit that called it.
    On an accelerator each rank works on its own device, the one numbered LOCAL_RANK.
    """
    import torch.distributed as dist

    if not dist.is_available():
        raise UsageError("a distributed launch (RANK/WORLD_SIZE are set), but this torch was built without "
                         "torch.distributed")
    if dist.is_initialized():
        return dist.get_backend()
    backend = backend_for(device_type)
    if device_type.name != "cpu":
        device_type.select(world.local_rank)
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return backend


def leave() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _store():
    # The rendezvous store, not a collective: it still answers when a collective timed out and
    # left the group out of step, and when a rank's process group broke.
    import torch.distributed as dist

    return dist.distributed_c10d._get_default_store()


def _key(rank: int) -> str:
    return _KEY.format(restart=os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"), rank=rank)


def hand_over(world: World, results: list[dict]) -> None:
    """Leave this rank's failures in the store for rank 0 (every rank but 0 calls it)."""
    rows = [{k: row.get(k) for k in ("unit", "device", "outcome", "reason")}
            for row in results if row.get("outcome") in _REPORTED]
    _store().set(_key(world.rank), json.dumps(rows))


def gather(world: World, wait_s: float) -> tuple[dict[int, list[dict]], list[int]]:
    """Rank 0: every other rank's failures, and the ranks that handed nothing over within ``wait_s``."""
    store, deadline = _store(), time.monotonic() + wait_s
    found: dict[int, list[dict]] = {}
    silent: list[int] = []
    for rank in range(1, world.size):
        left = max(deadline - time.monotonic(), 0.1)
        try:
            store.wait([_key(rank)], datetime.timedelta(seconds=left))
            found[rank] = json.loads(store.get(_key(rank)))
        except RuntimeError:  # the store's timeout (DistStoreError), or a store that went away
            silent.append(rank)
    return found, silent


def fold(results: list[dict], elsewhere: dict[int, list[dict]]) -> list[str]:
    """Mark in rank 0's rows each unit another rank failed, naming the ranks; the lines that say so."""
    lines = []
    rows = {(row["unit"], row["device"]): row for row in results}
    for rank, failures in sorted(elsewhere.items()):
        for failure in failures:
            said = f"rank {rank}: {failure['outcome']}: {failure.get('reason') or ''}".rstrip(": ")
            lines.append(f"{failure['unit']}[{failure['device']}] {said}")
            row = rows.get((failure["unit"], failure["device"]))
            if row is None:
                continue
            ok_here = row["outcome"] in ("passed", "skipped")
            row.setdefault("failed_on_ranks", [] if ok_here else [0]).append(rank)
            if ok_here:
                row["outcome"], row["reason"] = "failed", said
            else:
                row["reason"] = f"{row.get('reason') or ''}; {said}".lstrip("; ")
    return lines


__all__ = ["World", "backend_for", "fold", "from_env", "gather", "hand_over", "join", "leave"]
