"""A saved ``refsuite bench`` run read back: each configuration with its rounds, each ceiling per round.

pytest-benchmark's JSON holds one entry per timed item; with rounds (``refsuite.bench.rounds``) a
configuration has one entry per round, its ``extra_info`` naming the round. A round's figure is
the median of that round's calls; a round's ceiling is the best call of that round (the best the
machine did then). A file written before rounds existed reads as one round per configuration.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import DataError
from ..core.records import read_json

#: what names a configuration in a run
CONFIG_FIELDS = ("device", "stage", "mode", "batch", "variant")


@dataclass
class Run:
    path: str
    machine_info: dict
    #: (device, stage, mode, batch, variant) -> its rounds in round order, each a dict of
    #: round, seconds, images_per_s, gflops, pct_ceiling (of that round's SGEMM), vs_eager
    configs: dict[tuple, list[dict]] = field(default_factory=dict)
    #: (device, "sgemm" | "copy") -> {round: GFLOP/s or GB/s}
    ceilings: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)

    @property
    def devices(self) -> set[str]:
        return {key[0] for key in self.configs}

    def rounds(self) -> int:
        return max((len(r) for r in self.configs.values()), default=0)


def spread(values: list[float]) -> tuple[float, float]:
    """(median, interquartile range) of ``values``; the range is 0 for a single value."""
    if not values:
        return float("nan"), float("nan")
    q1, median, q3 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return float(median), float(q3 - q1)


def read_run(path: str | Path) -> dict:
    """pytest-benchmark's JSON of a ``refsuite bench`` run; a DataError naming what is wrong otherwise."""
    data = read_json(path)
    hint = "is not pytest-benchmark JSON from `refsuite bench --json PATH`"
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise DataError(f"{path} {hint}: expected an object with 'benchmarks'")
    for i, bench in enumerate(data["benchmarks"]):
        ok = (isinstance(bench, dict) and isinstance(bench.get("extra_info"), dict) and isinstance(bench.get("stats"), dict)
              and all(isinstance(bench["stats"].get(k), (int, float)) and bench["stats"][k] > 0 for k in ("median", "min")))
        if not ok:
            raise DataError(f"{path} {hint}: benchmarks[{i}] lacks extra_info or positive stats")
    return data


def load_run(path: str | Path) -> Run:
    data = read_run(path)
    run = Run(str(path), data.get("machine_info") if isinstance(data.get("machine_info"), dict) else {})
    for bench in data["benchmarks"]:
        info, stats = bench["extra_info"], bench["stats"]
        rnd = info.get("round", 0)
        if info.get("kind") == "ceiling":
            work = info.get("flops") or info.get("bytes")
            run.ceilings.setdefault((info["device"], info["ceiling"]), {})[rnd] = work / stats["min"] / 1e9
        elif info.get("kind") == "hotpath":
            seconds = stats["median"]
            run.configs.setdefault(tuple(info[f] for f in CONFIG_FIELDS), []).append({
                "round": rnd, "seconds": seconds, "images_per_s": info["batch"] / seconds,
                "gflops": info["flops_per_image"] * info["batch"] / seconds / 1e9})
    for rounds in run.configs.values():
        rounds.sort(key=lambda r: r["round"])
    _relate(run)
    return run


def _relate(run: Run) -> None:
    """Each round's fraction of the same round's SGEMM ceiling and its ratio to the same round's eager NCHW."""
    for key, rounds in run.configs.items():
        sgemm = run.ceilings.get((key[0], "sgemm"), {})
        fallback = spread(list(sgemm.values()))[0]
        eager = {r["round"]: r["seconds"] for r in run.configs.get((*key[:4], "eager_nchw"), [])}
        for r in rounds:
            ceiling = sgemm.get(r["round"], fallback)
            r["pct_ceiling"] = 100 * r["gflops"] / ceiling if ceiling and not math.isnan(ceiling) else float("nan")
            r["vs_eager"] = eager[r["round"]] / r["seconds"] if r["round"] in eager else float("nan")
