"""Device types refsuite can run units on, and how `--device` strings resolve to them.

A device type says whether it is available, how many devices it has, how to wait for
queued work, which dtypes it supports and how loose comparisons on it may be. The
built-ins below are registered through the ``refsuite.devices`` entry-point group like
any third-party device; any other device type torch knows (an out-of-tree backend that
torch autoloads) gets :class:`GenericDeviceType`.

Note [Adding a device type]
~~~~~~~~~~~~~~~~~~~~~~~~~~~
1. Instantiate :class:`DeviceType` (a backend with one always-present device that queues nothing:
   :class:`SingleDeviceType`), subclassing it only for what ``torch.<name>`` does not give.
2. ``name`` is the torch device type and the entry point's name. Declare ``dtypes``,
   ``capabilities`` (:data:`KNOWN_CAPABILITIES`; units needing one it lacks skip with the reason,
   ``lacking={capability: why}`` adds the evidence), ``tolerances={dtype: (rtol, atol)}`` and, where
   each new shape compiles, ``max_examples``.
3. Hooks to override where the backend differs: ``device_count`` (availability is count > 0),
   ``unavailable_reason``, ``synchronize``/``synchronize_problem`` (benchmarks wait through them),
   ``select``, ``flush`` (a lazy backend's step boundary), ``devices``, ``facts``. Import the
   backend inside the hooks, not at import time: every run loads every device plugin.
4. Register the instance in your pyproject::

       [project.entry-points."refsuite.devices"]
       meta = "refsuite_meta:META"

5. Test it: ``refsuite doctor --device NAME``, and ``pytest --device NAME`` with refsuite.testing's
   ``unit`` fixture (``pytest_plugins = ["refsuite.testing"]``) running units there.
Discovery checks that the object is a DeviceType named as its entry point; a hook that raises
makes the type unavailable with the reason (:func:`availability`), not the run.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping, Sequence

import torch

from .errors import DeviceError, PluginError
from .torch_version import torch_at_least

#: The dtypes the tutorial's sections exercise.
ALL_DTYPES: frozenset = frozenset(
    {
        torch.bool,
        torch.uint8,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
    }
)

#: Capabilities a unit may require.
#: ``values``: tensors hold real data (the meta device only tracks shapes).
#: ``float64``: double precision is supported.
#: ``seeding``: torch.manual_seed seeds the device's generator and torch.random.fork_rng saves and restores it.
#: ``eager``: each operation runs as its own kernel, so a reduction sums in the same order whatever
#: operations surround it (a graph compiler may fuse it with its neighbours and reorder it).
KNOWN_CAPABILITIES = frozenset({"values", "float64", "seeding", "eager"})

Tolerances = Mapping[torch.dtype, "tuple[float, float]"]


class DeviceType:
    """A kind of device (``cpu``, ``cuda``...): availability, dtypes, tolerances.

    Subclass and override :meth:`device_count` / :meth:`synchronize` for a backend
    whose ``torch.<name>`` module does not follow the usual layout.
    """

    def __init__(
        self,
        name: str,
        *,
        dtypes: Iterable[torch.dtype] = ALL_DTYPES,
        capabilities: Iterable[str] | None = None,
        tolerances: Tolerances | None = None,
        description: str = "",
        lacking: Mapping[str, str] | None = None,
        max_examples: int | None = None,
        distributed_backend: str | None = None,
    ) -> None:
        self.name = name
        self.dtypes = frozenset(dtypes)
        if capabilities is None:
            capabilities = {"values", "seeding", "eager"} | ({"float64"} if torch.float64 in self.dtypes else set())
        self.capabilities = frozenset(capabilities)
        unknown = (self.capabilities | set(lacking or {})) - KNOWN_CAPABILITIES
        if unknown:
            raise PluginError(f"unknown capabilities {sorted(unknown)} for device type {name!r}; known: {sorted(KNOWN_CAPABILITIES)}")
        #: dtype -> (rtol, atol), overriding torch.testing.assert_close's defaults on this device.
        self.tolerances = dict(tolerances or {})
        self.description = description
        #: capability -> why the device lacks it, added to the reason a unit needing it is skipped
        self.lacking = dict(lacking or {})
        #: at most this many hypothesis examples per property here: a backend that compiles a graph for
        #: every new shape spends seconds per example (None: the profile decides)
        self.max_examples = max_examples
        #: the torch.distributed backend its ranks join under torchrun (None: torch's default for the type)
        self.distributed_backend = distributed_backend

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    @property
    def module(self):
        """``torch.<name>`` (torch.cuda, torch.mps...), or None."""
        return getattr(torch, self.name, None)

    def device_count(self) -> int:
        count = getattr(self.module, "device_count", None)
        try:
            return int(count()) if count is not None else 0
        except Exception:  # a backend that raises when no driver is present has no devices
            return 0

    def is_available(self) -> bool:
        # device_count, not is_available(): CUDA can report available with zero usable devices.
        return self.device_count() > 0

    def unavailable_reason(self) -> str | None:
        """Why there are no devices of this type (None when there are)."""
        if self.device_count() > 0:
            return None
        if self.module is None:
            return f"torch has no torch.{self.name} module"
        return f"torch.{self.name}.device_count() is 0"

    def synchronize(self, device: torch.device) -> None:
        """Wait until the work queued on ``device`` is done (benchmarks time calls through it)."""
        sync = getattr(self.module, "synchronize", None)
        if sync is not None:
            sync(device)

    def select(self, index: int) -> None:
        """Make device ``index`` this process's current one (``torch.<name>.set_device``), so that
        work that follows the current device (kernel launches, streams) goes where the tensors are."""
        set_device = getattr(self.module, "set_device", None)
        if set_device is not None:
            set_device(index)

    def synchronize_problem(self) -> str | None:
        """Why :meth:`synchronize` cannot wait for this device's work, or None when it can.

        A timing taken without waiting counts only the queuing of the work.
        """
        if getattr(self.module, "synchronize", None) is None:
            return f"torch.{self.name} has no synchronize()"
        return None

    def flush(self, device: torch.device) -> None:
        """Mark a step boundary: a lazy backend runs what it has recorded so far, so one graph
        covers one training step or one property example instead of growing with the run.
        Eager backends have nothing to do."""

    def devices(self) -> list["Device"]:
        """Every device of this type, one per index."""
        return [Device(self, index) for index in range(self.device_count())]

    def facts(self) -> dict:
        """What `refsuite doctor` and the pytest header print."""
        facts = {
            "available": self.is_available(),
            "count": self.device_count(),
            "capabilities": sorted(self.capabilities),
            "dtypes": sorted(str(d).replace("torch.", "") for d in self.dtypes),
        }
        if self.is_available():
            names = []
            for dev in self.devices():
                get_name = getattr(self.module, "get_device_name", None)
                names.append(get_name(dev.index) if get_name else dev.label)
            facts["names"] = names
        return facts


class SingleDeviceType(DeviceType):
    """A device type with exactly one device, always present, that queues no work: the host CPU,
    torch's meta device."""

    def device_count(self) -> int:
        return 1

    def synchronize(self, device: torch.device) -> None:
        pass  # kernels have finished when the call returns (meta runs none)

    def synchronize_problem(self) -> str | None:
        return None

    def devices(self) -> list["Device"]:
        return [Device(self, None)]


class CPUDeviceType(SingleDeviceType):
    def facts(self) -> dict:
        facts = super().facts()
        facts["names"] = [f"cpu ({torch.get_num_threads()} intra-op threads)"]
        return facts


class MPSDeviceType(DeviceType):
    def device_count(self) -> int:
        return 1 if torch.backends.mps.is_available() else 0


#: out-of-tree backends torch knows the device type of, and the package that provides each
#: (none of them autoloads through torch's ``torch.backends`` entry-point group)
_BACKEND_PACKAGES = {"xla": "torch_xla"}


class GenericDeviceType(DeviceType):
    """Any other device type torch knows, such as an autoloaded out-of-tree backend.

    Availability comes from ``torch.<name>.device_count()`` when the backend registered
    a module, else from allocating a one-element tensor there.
    """

    def unavailable_reason(self) -> str | None:
        if self.device_count() > 0:
            return None
        if self.module is not None:
            return super().unavailable_reason()
        package = _BACKEND_PACKAGES.get(self.name)
        if package is not None:
            import importlib.util

            state = "is installed but not imported" if importlib.util.find_spec(package) else "is not installed"
            return (f"torch knows the device type {self.name!r}, but its backend {package} {state}: torch does not "
                    f"autoload it, and refsuite reaches it only through a device plugin (refsuite-{self.name})")
        return (f"torch knows the device type {self.name!r}, but no imported backend registered torch.{self.name} "
                f"or accepts a tensor there (torch imports out-of-tree backends itself only through its "
                f"'torch.backends' entry-point group, torch>=2.5)")

    def device_count(self) -> int:
        if self.module is not None and hasattr(self.module, "device_count"):
            return super().device_count()
        try:
            torch.empty(1, device=self.name)
        except Exception:
            return 0
        return 1

    def synchronize(self, device: torch.device) -> None:
        # torch.accelerator (2.6+) knows how to wait on whatever the current accelerator is.
        if torch_at_least("2.6") and _current_accelerator_type() == self.name:
            torch.accelerator.synchronize(device)
        else:
            super().synchronize(device)

    def synchronize_problem(self) -> str | None:
        if _current_accelerator_type() == self.name or super().synchronize_problem() is None:
            return None
        return (f"torch.{self.name} has no synchronize() and {self.name} is not torch.accelerator's current "
                f"accelerator, so refsuite's generic fallback cannot wait for work queued there")


def _current_accelerator_type() -> str | None:
    if not torch_at_least("2.6"):
        return None
    try:
        acc = torch.accelerator.current_accelerator()
    except RuntimeError:  # 2.6 raises when there is none; 2.7+ returns None
        return None
    return acc.type if acc is not None else None


_NO_FLOAT64 = ALL_DTYPES - {torch.float64}

CPU = CPUDeviceType("cpu", description="host CPU")
# cuDNN convolutions may use TF32 by default on Ampere and newer, so float32 is looser there.
CUDA = DeviceType("cuda", tolerances={torch.float32: (2e-3, 2e-3)}, description="NVIDIA CUDA or AMD ROCm")
MPS = MPSDeviceType("mps", dtypes=_NO_FLOAT64, tolerances={torch.float32: (1e-4, 1e-4)}, description="Apple Metal")
XPU = DeviceType("xpu", description="Intel GPU")


@dataclasses.dataclass(frozen=True)
class Device:
    """One concrete device units run on: a type and, for accelerators, an index."""

    type: DeviceType
    index: int | None = None

    @property
    def label(self) -> str:
        """How the user writes it and how test ids show it: ``cpu``, ``cuda``, ``cuda:1``."""
        return self.type.name if self.index is None else f"{self.type.name}:{self.index}"

    @property
    def torch(self) -> torch.device:
        return torch.device(self.type.name if self.index is None else f"{self.type.name}:{self.index}")

    @property
    def dtypes(self) -> frozenset:
        return self.type.dtypes

    @property
    def capabilities(self) -> frozenset:
        return self.type.capabilities

    def supports(self, dtype: torch.dtype) -> bool:
        return dtype in self.type.dtypes

    def synchronize(self) -> None:
        self.type.synchronize(self.torch)

    def flush(self) -> None:
        self.type.flush(self.torch)

    def __str__(self) -> str:
        return self.label


def availability(kind: DeviceType) -> tuple[bool, str | None]:
    """Whether devices of ``kind`` are available, and why not when its plugin's own check failed:
    a plugin's hook that raises anything, sys.exit() included, makes its type unavailable, not the run."""
    try:
        return bool(kind.is_available()), None
    except (Exception, SystemExit) as exc:
        return False, f"its is_available() raised {type(exc).__name__}: {exc}"


def available_devices(types: Mapping[str, DeviceType]) -> list[Device]:
    """Every available device of the known types, cpu first."""
    found: list[Device] = []
    for dtype in types.values():
        if availability(dtype)[0]:
            found.extend(dtype.devices())
    return found


def _available_text(types: Mapping[str, DeviceType]) -> str:
    return ", ".join(d.label for d in available_devices(types)) or "none"


def resolve_devices(specs: Sequence[str], types: Mapping[str, DeviceType],
                    broken: Mapping[str, str] | None = None) -> list[Device]:
    """Turn ``--device`` values (repeated or comma-separated, ``all``) into devices.

    Raises DeviceError (a UsageError), naming the available devices, for anything unknown or absent; for a type
    whose device plugin failed to load (``broken``: type name -> its error), naming that error.
    """
    broken = broken or {}
    wanted = [part.strip() for spec in specs for part in spec.split(",")]
    if not specs:
        wanted = ["cpu"]
    if "" in wanted:
        shown = ",".join(repr(spec) for spec in specs)
        raise DeviceError(f"empty device name in --device {shown}: available: {_available_text(types)}")
    resolved: list[Device] = []
    for spec in wanted:
        kind = spec.partition(":")[0]
        if kind in broken and kind not in types:
            raise DeviceError(f"device plugin {kind!r} failed to load: {broken[kind]} (`refsuite doctor` shows the "
                             f"traceback); available: {_available_text(types)}")
        for device in _resolve_one(spec, types):
            if device not in resolved:
                resolved.append(device)
    return resolved


def _resolve_one(spec: str, types: Mapping[str, DeviceType]) -> list[Device]:
    if spec == "all":
        return available_devices(types)
    try:
        parsed = torch.device(spec)
    except (RuntimeError, ValueError):
        raise DeviceError(f"unknown device {spec!r}: available: {_available_text(types)}") from None
    dtype = types.get(parsed.type) or GenericDeviceType(parsed.type, description="generic fallback")
    count = dtype.device_count()
    if count == 0:
        raise DeviceError(
            f"device {spec!r} is not available on this machine "
            f"({dtype.name} reports {count} devices: {dtype.unavailable_reason()}); available: {_available_text(types)}"
        )
    # torch maps cpu:7 to the CPU silently; a user who typed 7 meant a device that is not there
    if parsed.index is not None and not (parsed.type == "cpu" and parsed.index == 0):
        if parsed.index >= count:
            raise DeviceError(
                f"device {spec!r} does not exist: {dtype.name} has {count} device(s) "
                f"(indices 0..{count - 1}); available: {_available_text(types)}"
            )
        return [Device(dtype, parsed.index)]
    # A bare type means its default device, as torch.device('cuda') does.
    return [Device(dtype, None)]
