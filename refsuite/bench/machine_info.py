"""A pytest plugin for the benchmarks' machine: the intra-op threads they run on (``--bench-threads``),
and pytest-benchmark's hook that gives every saved run refsuite's environment facts, that thread
count and the devices benchmarked."""
from __future__ import annotations


def pytest_addoption(parser) -> None:
    from .rounds import positive_int

    parser.getgroup("refsuite bench").addoption(
        "--bench-threads", type=positive_int, default=None, metavar="N",
        help="torch intra-op threads while timing (default: every core of the process's CPU affinity)")


def bench_threads(config) -> int:
    from ..core.budgets import affinity_cores

    return config.getoption("bench_threads", None) or affinity_cores()


def pytest_benchmark_update_machine_info(config, machine_info):
    import torch

    from ..core.records import environment

    machine_info.update(environment(config.getoption("device", None) or ["cpu"]))
    machine_info["torch_threads"] = machine_info["threads"]
    machine_info["bench_threads"] = bench_threads(config)
    if torch.cuda.is_available():
        machine_info["gpu"] = torch.cuda.get_device_name()
