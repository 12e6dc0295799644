"""torch-xla as a refsuite device: a real out-of-tree backend that records operations lazily
and compiles each graph it is asked to run.

torch does not autoload torch_xla, so this plugin imports it (on first use: ``refsuite doctor``
and every run load the entry point) and counts devices through its PJRT runtime. What a lazy
backend needs from the suite:

* ``flush`` cuts the recorded graph (``torch_xla.sync()``) at each property example, each
  comparison and each training step; otherwise a run compiles one graph that grows with it.
* ``synchronize`` also waits for the device, so ``refsuite bench`` times execution, not tracing.
* ``max_examples`` bounds hypothesis: every new shape is a new graph to compile.
* capabilities it lacks, with the evidence (checked by this plugin's tests where torch_xla is
  installed): ``seeding`` and ``eager``.
"""
from __future__ import annotations

import importlib
import importlib.util

import torch

from refsuite import ALL_DTYPES, Device, DeviceType

#: what a unit needing these capabilities is told when it is skipped here
LACKING = {
    "seeding": "torch.manual_seed does not reseed torch_xla's generator (xm.set_rng_state does), and "
               "torch.random.fork_rng needs a torch.xla module, which torch_xla does not register",
    "eager": "XLA compiles each graph whole and may fuse and reorder a reduction with its neighbours",
}

#: hypothesis examples per property: each new shape costs a compilation (about 0.1-1 s on a CPU)
MAX_EXAMPLES = 5


def _import_error() -> str | None:
    """Why torch_xla cannot be used here, or None (importing it on the first call)."""
    if importlib.util.find_spec("torch_xla") is None:
        return (f"torch_xla is not installed (pip install torch_xla of torch {torch.__version__.split('+')[0]}'s "
                f"release; PJRT_DEVICE=CPU runs it on the host)")
    try:
        importlib.import_module("torch_xla.runtime")
    except Exception as exc:  # a torch_xla built for another torch fails here, not at find_spec
        return f"torch_xla failed to import: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


class XLADeviceType(DeviceType):
    def device_count(self) -> int:
        if _import_error() is not None:
            return 0
        import torch_xla.runtime as xr

        try:
            return int(xr.addressable_runtime_device_count())
        except Exception:  # a PJRT_DEVICE with no client behind it (TPU without libtpu, CUDA without a GPU)
            return 0

    def unavailable_reason(self) -> str | None:
        problem = _import_error()
        if problem is not None:
            return problem
        if self.device_count() > 0:
            return None
        import os

        return (f"torch_xla's PJRT runtime found no devices for PJRT_DEVICE={os.environ.get('PJRT_DEVICE', '(unset)')} "
                f"(set PJRT_DEVICE=CPU, CUDA or TPU)")

    def devices(self) -> list[Device]:
        return [Device(self, index) for index in range(self.device_count())]

    def flush(self, device: torch.device) -> None:
        import torch_xla

        torch_xla.sync()

    def synchronize(self, device: torch.device) -> None:
        import torch_xla.core.xla_model as xm

        self.flush(device)
        xm.wait_device_ops()

    def synchronize_problem(self) -> str | None:
        return _import_error()

    def facts(self) -> dict:
        facts = super().facts()
        if facts["available"]:
            import torch_xla.runtime as xr

            facts["names"] = [f"{self.name}:{i} (PJRT {xr.device_type()})" for i in range(facts["count"])]
        return facts


XLA = XLADeviceType(
    "xla",
    dtypes=ALL_DTYPES,
    capabilities=frozenset({"values", "float64"}),
    lacking=LACKING,
    max_examples=MAX_EXAMPLES,
    description="torch-xla (lazy tensors, compiled per graph)",
)
