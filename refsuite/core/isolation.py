"""Each unit runs with torch's process-wide state as it found it, and leaves it so.

torch keeps settings that every later computation in the process reads: the default dtype and
device, grad and inference mode, threads, deterministic algorithms, anomaly detection, matmul
precision and TF32, cuDNN's flags, and the random generators. A unit that changes one and does
not restore it passes itself and makes later units fail for a reason that is not theirs (a
float64 default dtype fails every unit that builds float32 layers). So the state is taken before
each unit and put back after it, whatever the unit did, and a unit that left a setting changed
fails, naming the setting, its value before and after. The generators are restored but not
judged: drawing random numbers is what units do.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch

from .torch_version import torch_at_least


def _default_device():
    return torch.get_default_device()


def _deterministic():
    return torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()


def _anomaly():
    return torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()


def _set_anomaly(value) -> None:
    enabled, check_nan = value
    torch.autograd.set_detect_anomaly(enabled, check_nan=check_nan)


def _cudnn():
    flags = torch.backends.cudnn
    return flags.enabled, flags.benchmark, flags.deterministic, flags.allow_tf32


def _set_cudnn(value) -> None:
    flags = torch.backends.cudnn
    flags.enabled, flags.benchmark, flags.deterministic, flags.allow_tf32 = value


def _set_matmul_tf32(value) -> None:
    torch.backends.cuda.matmul.allow_tf32 = value


#: what is judged: name -> (read, restore)
SETTINGS: dict[str, tuple[Callable, Callable]] = {
    "default dtype": (torch.get_default_dtype, torch.set_default_dtype),
    "grad mode": (torch.is_grad_enabled, torch.set_grad_enabled),
    "intra-op threads": (torch.get_num_threads, torch.set_num_threads),
    "deterministic algorithms": (_deterministic, lambda v: torch.use_deterministic_algorithms(v[0], warn_only=v[1])),
    "anomaly detection": (_anomaly, _set_anomaly),
    "float32 matmul precision": (torch.get_float32_matmul_precision, torch.set_float32_matmul_precision),
    "cuDNN flags (enabled, benchmark, deterministic, allow_tf32)": (_cudnn, _set_cudnn),
    "CUDA matmul allow_tf32": (lambda: torch.backends.cuda.matmul.allow_tf32, _set_matmul_tf32),
}
if torch_at_least("2.3"):  # torch.get_default_device arrived in 2.3
    SETTINGS["default device"] = (_default_device, torch.set_default_device)


def _generators() -> dict:
    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_generators(states: dict) -> None:
    torch.set_rng_state(states["cpu"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])


def _read() -> dict:
    return {name: read() for name, (read, _) in SETTINGS.items()}


@contextlib.contextmanager
def guarded() -> Iterator[list[str]]:
    """Restore torch's global state when the block ends; the list it yields is then filled with
    one line per setting the block left changed (``"default dtype: torch.float32 -> torch.float64"``)."""
    before, generators = _read(), _generators()
    leaks: list[str] = []
    # inference mode is a context manager, not a flag: a block that entered one and did not leave it
    # shows as inference mode still on
    inference = torch.is_inference_mode_enabled()
    try:
        yield leaks
    finally:
        after = _read()
        for name, value in before.items():
            if after[name] != value:
                leaks.append(f"{name}: {value} -> {after[name]}")
                SETTINGS[name][1](value)
        if torch.is_inference_mode_enabled() != inference:
            leaks.append(f"inference mode: {inference} -> {not inference}")
        _restore_generators(generators)


def left_changed(unit_id: str, leaks: list[str]) -> str:
    """The failure message for a unit that left torch's global state changed."""
    return (f"{unit_id} left torch's global state changed (restored for the units after it): "
            + "; ".join(leaks))


__all__ = ["SETTINGS", "guarded", "left_changed"]
