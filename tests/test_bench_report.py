"""refsuite bench's table and comparison, computed from pytest-benchmark JSON."""
import json

from refsuite.bench import report
from refsuite.tutorial.hotpath import flops_per_image


def test_flop_accounting_matches_the_issue():
    assert flops_per_image("net", backward=False) == 2 * (352_800 + 240_000 + 58_920)
    # backward: 2× forward except conv1's input gradient
    assert flops_per_image("net", backward=True) == 2 * (2 * 352_800 + 3 * 240_000 + 3 * 58_920)
    assert flops_per_image("conv1", backward=True) == 2 * 2 * 352_800


def _bench(median, minimum=None, **info):
    return {"stats": {"median": median, "min": minimum or median}, "extra_info": info}


def _run(path, eager_s, cl_s, sgemm_s):
    data = {"benchmarks": [
        _bench(sgemm_s, kind="ceiling", ceiling="sgemm", flops=1e11, device="cpu"),
        _bench(0.01, kind="ceiling", ceiling="copy", bytes=1e9, device="cpu"),
        _bench(eager_s, kind="hotpath", stage="both", mode="fwd", batch=256, variant="eager_nchw", device="cpu",
               flops_per_image=flops_per_image("both", False)),
        _bench(cl_s, kind="hotpath", stage="both", mode="fwd", batch=256, variant="channels_last", device="cpu",
               flops_per_image=flops_per_image("both", False)),
    ]}
    path.write_text(json.dumps(data))
    return path


def test_table_reports_throughput_ceiling_fraction_and_ratio(tmp_path):
    text = report.table(_run(tmp_path / "a.json", 0.02, 0.01, 1.0))
    assert "cpu sgemm 100.0 GFLOP/s" in text and "cpu copy 100.0 GB/s" in text
    row = [line for line in text.splitlines() if "channels_last" in line][0]
    gflops = flops_per_image("both", False) * 256 / 0.01 / 1e9
    assert f"{256 / 0.01:,.0f}" in row and f"{gflops:.1f}" in row and f"{gflops:.1f}%" in row and row.endswith("2.00")


def test_compare_prints_ratios_between_runs(tmp_path):
    text = report.compare_runs(_run(tmp_path / "a.json", 0.02, 0.01, 1.0), _run(tmp_path / "b.json", 0.01, 0.01, 1.0))
    eager = [line for line in text.splitlines() if "eager_nchw" in line][0]
    assert eager.split()[-3] == "2.00"
