"""refsuite bench's table and verdicts, computed from pytest-benchmark JSON written here."""
import json
import re

import pytest

from refsuite import cli
from refsuite.bench import report
from refsuite.bench.comparison import compare_runs
from refsuite.bench.verdict import judge, min_p
from refsuite.tutorial.hotpath import flops_per_image

FLOPS = flops_per_image("both", False)
JITTER = (1.00, 1.02, 0.98, 1.01, 0.99)
MACHINE = {"node": "box", "machine": "x86_64", "cpu": {"brand_raw": "Some CPU", "count": 2}, "torch": "2.15.0"}


def test_flop_accounting_matches_the_issue():
    assert flops_per_image("net", backward=False) == 2 * (352_800 + 240_000 + 58_920)
    # backward: 2× forward except conv1's input gradient
    assert flops_per_image("net", backward=True) == 2 * (2 * 352_800 + 3 * 240_000 + 3 * 58_920)
    assert flops_per_image("conv1", backward=True) == 2 * 2 * 352_800


def _bench(median, minimum=None, **info):
    return {"stats": {"median": median, "min": minimum or median}, "extra_info": info}


def _write(path, variants, sgemm, machine=MACHINE, device="cpu"):
    """A run: ``variants`` maps a variant to its seconds per round; ``sgemm`` the ceiling's seconds per round
    (1e11 FLOPs, so 1.0 s is 100 GFLOP/s)."""
    benches = [_bench(s, kind="ceiling", ceiling="sgemm", flops=1e11, device=device, round=r) for r, s in enumerate(sgemm)]
    for name, seconds in variants.items():
        benches += [_bench(s, kind="hotpath", stage="both", mode="fwd", batch=256, variant=name, device=device,
                           flops_per_image=FLOPS, round=r) for r, s in enumerate(seconds)]
    path.write_text(json.dumps({"machine_info": machine, "benchmarks": benches}))
    return path


def _rounds(seconds, jitter=JITTER):
    return [seconds * j for j in jitter]


def _judged(text, verdict):
    """The configurations listed under ``verdict`` in a comparison's summary."""
    section, listed = None, []
    for line in text.splitlines():
        if re.match(r"(slower|faster|unchanged|not judged) \(\d+\)", line):
            section = line.split(" (")[0]
        elif line.startswith("  ") and section == verdict:
            listed.append(line.split(":")[0].strip())
    return listed


def test_table_prints_medians_spreads_and_each_rounds_own_ceiling(tmp_path):
    # the machine drifts: round 3 is twice as slow for everything, ceiling included
    drift = (1, 1, 2, 1, 1)
    run = _write(tmp_path / "a.json", {"eager_nchw": [0.02 * d for d in drift], "channels_last": [0.01 * d for d in drift]},
                 sgemm=[1.0 * d for d in drift])
    text = report.table(run)
    assert "cpu sgemm 100.0 GFLOP/s ±0%" in text and "median of 5 rounds" in text
    row = next(line for line in text.splitlines() if "channels_last" in line)
    gflops = FLOPS * 256 / 0.01 / 1e9
    # images/s: median 25,600 with a spread; % SGEMM against each round's ceiling: no spread from the drift
    assert f"{256 / 0.01:,.0f} ±" in row and f"{gflops:.1f}" in row and f"{gflops:.1f} ±0.0" in row
    assert row.endswith("2.00 ±0.00")


def test_a_file_without_rounds_reads_as_one_round(tmp_path):
    data = {"benchmarks": [_bench(1.0, kind="ceiling", ceiling="sgemm", flops=1e11, device="cpu"),
                           _bench(0.01, kind="hotpath", stage="both", mode="fwd", batch=256, variant="eager_nchw",
                                  device="cpu", flops_per_image=FLOPS)]}
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert "median of 1 rounds" in report.table(tmp_path / "old.json")
    text, code = compare_runs(tmp_path / "old.json", tmp_path / "old.json", threshold=0.1)
    assert code == 0 and "too few rounds (A 1, B 1" in text


def test_compare_flags_the_slowed_configuration_and_no_other(tmp_path):
    a = _write(tmp_path / "a.json", {"eager_nchw": _rounds(0.02), "pool_first": _rounds(0.015)}, sgemm=_rounds(1.0))
    b = _write(tmp_path / "b.json", {"eager_nchw": _rounds(0.0202, JITTER[::-1]), "pool_first": _rounds(0.03)},
               sgemm=_rounds(1.0))
    text, code = compare_runs(a, b, threshold=0.1)
    assert code == 1 and "verdict: SLOWER" in text
    assert _judged(text, "slower") == ["cpu both fwd 256 pool_first"]
    assert "unchanged (1)" in text and "images/s (same machine and devices)" in text
    assert cli.main(["bench", "--compare", str(a), str(b)]) == 1
    assert cli.main(["bench", "--compare", str(a), str(a)]) == 0


def test_a_change_needs_the_threshold_and_the_rank_test(tmp_path):
    a = _write(tmp_path / "a.json", {"eager_nchw": _rounds(0.02)}, sgemm=_rounds(1.0))
    five_percent = _write(tmp_path / "b.json", {"eager_nchw": _rounds(0.021)}, sgemm=_rounds(1.0))
    assert compare_runs(a, five_percent, threshold=0.10)[1] == 0  # significant, but within 10 %
    assert compare_runs(a, five_percent, threshold=0.03)[1] == 1
    # 30 % slower in the median, but the rounds overlap: too noisy to call
    noisy = _write(tmp_path / "c.json", {"eager_nchw": [0.01, 0.026, 0.04, 0.03, 0.015]}, sgemm=_rounds(1.0))
    text, code = compare_runs(a, noisy, threshold=0.10)
    assert code == 0 and "eager_nchw: too noisy (×0.77 but p = " in text


def test_too_few_rounds_cannot_be_judged():
    assert min_p(5, 5) < 0.01 and min_p(4, 4) < 0.05 <= min_p(3, 3)
    verdict = judge("x", [1.0, 1.1, 0.9], [0.5, 0.55, 0.45], threshold=0.1)
    assert verdict.verdict == "not judged" and verdict.why.startswith("too few rounds (A 3, B 3")
    assert judge("x", [1.0, 1.1, 0.9, 1.05], [0.5, 0.55, 0.45, 0.52], threshold=0.1).verdict == "slower"


def test_two_machines_compare_fractions_of_their_own_ceiling(tmp_path):
    a = _write(tmp_path / "a.json", {"eager_nchw": _rounds(0.02)}, sgemm=_rounds(1.0))
    # twice the machine: its SGEMM and the hot path both twice as fast
    bigger = {**MACHINE, "node": "other", "cpu": {"brand_raw": "Bigger CPU", "count": 16}}
    b = _write(tmp_path / "b.json", {"eager_nchw": _rounds(0.01)}, sgemm=_rounds(0.5), machine=bigger)
    text, code = compare_runs(a, b, threshold=0.1)
    assert code == 0 and "the machines differ (node, cpu, cores)" in text and "unchanged (1)" in text
    # asked for absolute throughput instead: B is faster
    text, code = compare_runs(a, b, threshold=0.1, basis="time")
    assert code == 0 and _judged(text, "faster") == ["cpu both fwd 256 eager_nchw"]


def test_two_devices_are_matched_by_configuration(tmp_path):
    a = _write(tmp_path / "a.json", {"eager_nchw": _rounds(0.02)}, sgemm=_rounds(1.0))
    b = _write(tmp_path / "b.json", {"eager_nchw": _rounds(0.001)}, sgemm=_rounds(0.01), device="cuda")
    text, code = compare_runs(a, b, threshold=0.1)
    assert "the devices differ (cpu against cuda)" in text
    assert "cpu→cuda both fwd 256 eager_nchw" in text and code == 1  # 20× the rate, but 5 % of the ceiling


@pytest.mark.parametrize("threshold", ["0", "-5", "ten"])
def test_a_bad_threshold_is_a_usage_error(tmp_path, threshold, capsys):
    a = _write(tmp_path / "a.json", {"eager_nchw": _rounds(0.02)}, sgemm=_rounds(1.0))
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--compare", str(a), str(a), "--threshold", threshold])
    assert exc.value.code == 4 and "--threshold" in capsys.readouterr().err  # a usage error


def test_compare_refuses_a_file_that_is_not_a_bench_run(tmp_path, capsys):
    (tmp_path / "x.json").write_text("[]")
    assert cli.main(["bench", "--compare", str(tmp_path / "x.json"), str(tmp_path / "x.json")]) == 4
    assert "is not pytest-benchmark JSON" in capsys.readouterr().err
