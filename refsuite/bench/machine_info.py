"""pytest-benchmark hook: record torch, CUDA, cuDNN, the device and the thread count with every run."""
from __future__ import annotations


def pytest_benchmark_update_machine_info(config, machine_info):
    import torch

    machine_info["torch"] = torch.__version__
    machine_info["cuda"] = torch.version.cuda
    machine_info["cudnn"] = torch.backends.cudnn.version()
    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["devices"] = config.getoption("device", None) or ["cpu"]
    if torch.cuda.is_available():
        machine_info["gpu"] = torch.cuda.get_device_name()
