"""How a parallel run shares the machine: torch threads per process and which device each worker uses.

Under pytest-xdist every worker is a separate process whose torch would otherwise start one intra-op
thread per core, so N workers on C cores run N × C threads and spend their time fighting over the
cores. Each worker gets ``cores // workers`` threads instead (at least one). With several
accelerators of a requested type, worker *i* runs on index *i mod n*, so the workers spread over
the devices instead of queueing on the first. Test ids keep the type's label (``[cuda]``): xdist
needs every worker to collect the same ids, so the index is chosen when a unit runs.

A run that is not parallel keeps torch's defaults unless the user sets the threads. The functions
here take the facts (cores, worker index and count, device count) as arguments, so they can be
tested without xdist or a GPU; the pytest plugin gathers the facts and applies the result.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import TYPE_CHECKING, Mapping

from .errors import UsageError

if TYPE_CHECKING:  # torch is imported only where a budget is applied: the pytest plugin loads this module early
    from .devices import Device

#: the environment variables that override the budget (the pytest options win over them)
CORES_ENV = "REFSUITE_CORES"
THREADS_ENV = "REFSUITE_TORCH_THREADS"
DEVICES_ENV = "REFSUITE_WORKER_DEVICES"
#: --worker-devices: ``spread`` puts worker i on index i mod n; ``shared`` leaves every worker on the default device
DEVICE_POLICIES = ("spread", "shared")


def usable_cores(env: Mapping[str, str] = os.environ) -> int:
    """The cores this process may run on: ``$REFSUITE_CORES``, else its CPU affinity, else every core.

    Affinity matters on shared machines and in batch jobs (taskset, cgroups' cpusets, Slurm), where
    ``os.cpu_count()`` reports cores the process is not allowed to use.
    """
    if env.get(CORES_ENV):
        return _positive(env[CORES_ENV], f"${CORES_ENV}")
    return affinity_cores()


def affinity_cores() -> int:
    """The cores the operating system lets this process run on."""
    process_cpu_count = getattr(os, "process_cpu_count", None)  # Python 3.13+: affinity and PYTHON_CPU_COUNT
    if process_cpu_count is not None:
        return process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def thread_share(cores: int, workers: int) -> int:
    """Intra-op threads for each of ``workers`` processes sharing ``cores``: an even share, at least one."""
    return max(1, cores // max(1, workers))


def device_index(worker: int, count: int) -> int:
    """The index worker ``worker`` uses among ``count`` devices of one type."""
    return worker % count


def worker_number(worker_id: str) -> int:
    """xdist's worker id (``gw3``) as a number (3)."""
    match = re.fullmatch(r"gw(\d+)", worker_id)
    if match is None:
        raise ValueError(f"not an xdist worker id: {worker_id!r}")
    return int(match.group(1))


@dataclasses.dataclass(frozen=True)
class Budget:
    """What one process of a run may use."""

    cores: int
    #: processes running tests in parallel (xdist workers); 0 when the run is not parallel
    workers: int
    #: this process's worker number; None in the xdist controller and in a run that is not parallel
    worker: int | None
    #: torch intra-op threads (and as many inter-op threads) for each process; None: torch's defaults
    threads: int | None
    #: the user chose ``threads`` (option or environment), rather than the even share
    threads_chosen: bool
    #: one of DEVICE_POLICIES
    devices: str = "spread"

    def device_for(self, device: Device) -> Device:
        """The concrete device this process runs ``device``'s units on.

        Only a bare type (``cuda``, no index) with several devices moves, and only in a worker under
        ``spread``; an index the user wrote (``cuda:1``) is kept.
        """
        if self.worker is None or self.devices != "spread" or device.index is not None:
            return device
        count = device.type.device_count()
        if count <= 1:
            return device
        from .devices import Device

        return Device(device.type, device_index(self.worker, count))

    def describe(self, devices: list[Device] = ()) -> str:
        """One line for the report header."""
        if self.threads is None:
            import torch

            threads = f"torch's defaults ({torch.get_num_threads()} intra-op threads)"
        else:
            how = "chosen" if self.threads_chosen else f"{self.cores} cores // {self.workers} workers"
            threads = f"{self.threads} torch intra-op + {self.threads} inter-op thread{'s' * (self.threads > 1)} ({how})"
        if self.workers:
            text = f"{self.cores} cores, {self.workers} xdist workers, each {threads}"
        else:
            text = f"{self.cores} cores, one process: {threads}"
        spread = []
        for device in devices:
            count = device.type.device_count() if device.index is None else 1
            if count > 1 and self.workers:
                if self.devices == "spread":
                    spread.append(f"worker gwN runs {device.label} on {device.label}:(N mod {count})")
                else:
                    spread.append(f"every worker runs {device.label} on its default device (--worker-devices=shared)")
        return "; ".join([text, *spread])


def plan(*, cores: int, workers: int, worker: int | None, threads: str | int | None = None,
         devices: str | None = None, said_by: tuple[str, str] = ("--torch-threads", "--worker-devices")) -> Budget:
    """The budget of one process.

    ``threads`` is the user's choice (an integer, or None/``"auto"`` for the even share under xdist
    and torch's defaults otherwise); ``devices`` one of DEVICE_POLICIES (None: ``spread``);
    ``said_by`` names where each came from, for the error a bad value gets.
    """
    chosen = threads not in (None, "", "auto")
    if chosen:
        count = _positive(threads, said_by[0])
    elif workers:
        count = thread_share(cores, workers)
    else:
        count = None
    devices = devices or "spread"
    if devices not in DEVICE_POLICIES:
        raise UsageError(f"{said_by[1]} must be one of {', '.join(DEVICE_POLICIES)}, got {devices!r}")
    return Budget(cores=cores, workers=workers, worker=worker, threads=count, threads_chosen=chosen, devices=devices)


def from_environment(*, workers: int, worker: int | None, threads: str | None = None, devices: str | None = None,
                     env: Mapping[str, str] = os.environ) -> Budget:
    """:func:`plan` with this machine's cores, the options given, and the environment for those not given."""
    said_by = ("--torch-threads" if threads else f"${THREADS_ENV}", "--worker-devices" if devices else f"${DEVICES_ENV}")
    return plan(cores=usable_cores(env), workers=workers, worker=worker, threads=threads or env.get(THREADS_ENV),
                devices=devices or env.get(DEVICES_ENV), said_by=said_by)


def apply(budget: Budget, devices: list[Device] = ()) -> None:
    """Set this process's torch threads and make its devices current, as ``budget`` says.

    ``OMP_NUM_THREADS`` is set too, so that processes a test starts (a ``refsuite run`` in a
    subprocess) inherit the share rather than taking every core again.
    """
    if budget.threads is not None and (budget.worker is not None or budget.threads_chosen):
        import torch

        torch.set_num_threads(budget.threads)
        try:
            torch.set_num_interop_threads(budget.threads)
        except RuntimeError:  # only possible before the first inter-op work; keep what is there
            pass
        os.environ["OMP_NUM_THREADS"] = str(budget.threads)
    for device in devices:
        chosen = budget.device_for(device)
        if chosen.index is not None and chosen != device:
            chosen.type.select(chosen.index)


def _positive(text: str | int, what: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise UsageError(f"{what} must be an integer ≥ 1, got {text!r}")
    return value


__all__ = ["Budget", "DEVICE_POLICIES", "affinity_cores", "apply", "device_index", "from_environment", "plan", "thread_share",
           "usable_cores", "worker_number"]
