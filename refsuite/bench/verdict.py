"""``refsuite bench --compare A B``: faster, slower or unchanged, per configuration, between two saved runs.

A configuration changed only when B's median differs from A's by more than the threshold AND the
rounds of A and B are separated beyond their noise: a two-sided Mann-Whitney U test on the
per-round figures at p < ALPHA. A rank test assumes no distribution of the rounds (timings are
skewed, not normal) and one outlier round moves it by one rank at most. Like ``asv compare``, a
change beyond the threshold that the test cannot separate from noise is not called a change.

The figure compared is throughput (images/s) when both runs come from the same machine and device,
and otherwise each round's fraction of its own round's SGEMM ceiling, so that two machines or two
devices are compared on how well each uses what it has.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .runs import Run, spread

#: the significance level of the rank test
ALPHA = 0.05
#: the smallest change reported (a fraction: 0.10 is 10 %)
DEFAULT_THRESHOLD = 0.10
#: per-round figure compared, by basis
BASES = {"time": "images_per_s", "ceiling": "pct_ceiling"}


@dataclass
class Judgement:
    name: str
    a: list[float]
    b: list[float]
    ratio: float  # B/A of the compared figure's medians: above 1 is faster
    p: float
    verdict: str  # faster, slower, unchanged, not judged
    why: str = ""


def min_p(n: int, m: int) -> float:
    """The smallest two-sided p-value the exact test can give with n and m rounds."""
    return 2 / math.comb(n + m, n) if n and m else 1.0


def judge(name: str, a: list[float], b: list[float], threshold: float) -> Judgement:
    """Compare per-round figures where higher is better (throughput, fraction of ceiling)."""
    from scipy.stats import mannwhitneyu

    a = [v for v in a if not math.isnan(v)]
    b = [v for v in b if not math.isnan(v)]
    if not a or not b:
        return Judgement(name, a, b, float("nan"), float("nan"), "not judged", "no figure in " + ("A" if not a else "B"))
    ratio = spread(b)[0] / spread(a)[0]
    if min_p(len(a), len(b)) >= ALPHA:
        return Judgement(name, a, b, ratio, float("nan"), "not judged",
                         f"too few rounds (A {len(a)}, B {len(b)}: the rank test cannot reach p < {ALPHA}; 4 in each can)")
    p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
    if 1 / (1 + threshold) <= ratio <= 1 + threshold:
        return Judgement(name, a, b, ratio, p, "unchanged")
    if p >= ALPHA:
        return Judgement(name, a, b, ratio, p, "not judged", f"too noisy (×{ratio:.2f} but p = {p:.2f})")
    return Judgement(name, a, b, ratio, p, "faster" if ratio > 1 else "slower")


def machine(run: Run) -> dict:
    """What identifies the hardware a run measured, and the threads it used (not its software:
    releases are compared on one machine)."""
    info = run.machine_info
    cpu = info.get("cpu") if isinstance(info.get("cpu"), dict) else {}
    return {"node": info.get("node"), "machine": info.get("machine"), "cpu": cpu.get("brand_raw"),
            "cores": cpu.get("count"), "gpu": info.get("gpu"), "threads": info.get("bench_threads")}


def pair_keys(a: Run, b: Run) -> tuple[list[tuple], callable]:
    """The configurations both runs have, and how a key of A names B's: by device when both ran
    the same devices, else (one device each: two devices compared) without it."""
    if a.devices != b.devices and len(a.devices) == len(b.devices) == 1:
        (dev_b,) = b.devices
        to_b = lambda key: (dev_b, *key[1:])  # noqa: E731
    else:
        to_b = lambda key: key  # noqa: E731
    return [k for k in a.configs if to_b(k) in b.configs], to_b


def choose_basis(a: Run, b: Run, basis: str) -> tuple[str, str]:
    """(basis, why) where basis is 'time' or 'ceiling'; ``basis`` 'auto' picks by machine and device."""
    if basis != "auto":
        return basis, "as asked"
    diff = [k for k, v in machine(a).items() if machine(b)[k] != v]
    if diff:
        return "ceiling", f"the machines differ ({', '.join(diff)})"
    if a.devices != b.devices:
        return "ceiling", f"the devices differ ({', '.join(sorted(a.devices))} against {', '.join(sorted(b.devices))})"
    return "time", "same machine and devices"
