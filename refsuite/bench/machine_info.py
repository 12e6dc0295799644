"""pytest-benchmark hook: every saved run carries refsuite's environment facts and the devices benchmarked."""
from __future__ import annotations


def pytest_benchmark_update_machine_info(config, machine_info):
    import torch

    from ..core.records import environment

    machine_info.update(environment(config.getoption("device", None) or ["cpu"]))
    machine_info["torch_threads"] = machine_info["threads"]
    if torch.cuda.is_available():
        machine_info["gpu"] = torch.cuda.get_device_name()
