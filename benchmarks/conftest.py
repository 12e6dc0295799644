"""Benchmarks live apart from the default test run: `pytest benchmarks/` runs them."""
from __future__ import annotations

import pytest

from refsuite.bench.machine_info import pytest_benchmark_update_machine_info  # noqa: F401  (a hook)

RESULTS: dict[str, dict] = {}


def pytest_terminal_summary(terminalreporter):
    rows = {k: v for k, v in RESULTS.items() if "images_per_second" in v}
    if "tutorial_loop" not in rows:
        return
    base = rows["tutorial_loop"]["images_per_second"]
    tr = terminalreporter
    tr.write_sep("=", "training throughput (same data, same run)")
    tr.write_line(f"{'configuration':<34}{'images/s':>10}{'× tutorial loop':>17}{'test accuracy':>15}")
    for name, row in rows.items():
        tr.write_line(f"{name:<34}{row['images_per_second']:>10.0f}{row['images_per_second'] / base:>17.2f}{row['accuracy']:>15.1%}")


@pytest.fixture(scope="session")
def results():
    return RESULTS
