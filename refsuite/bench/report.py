"""Turn pytest-benchmark JSON into refsuite bench's table, and compare two saved runs."""
from __future__ import annotations

from pathlib import Path

from ..core.records import read_json


def load_run(path: str | Path) -> dict:
    """pytest-benchmark's JSON of a ``refsuite bench`` run; ValueError naming what is wrong otherwise."""
    data = read_json(path)
    hint = "is not pytest-benchmark JSON from `refsuite bench --json PATH`"
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ValueError(f"{path} {hint}: expected an object with 'benchmarks'")
    for i, bench in enumerate(data["benchmarks"]):
        ok = (isinstance(bench, dict) and isinstance(bench.get("extra_info"), dict) and isinstance(bench.get("stats"), dict)
              and all(isinstance(bench["stats"].get(k), (int, float)) and bench["stats"][k] > 0 for k in ("median", "min")))
        if not ok:
            raise ValueError(f"{path} {hint}: benchmarks[{i}] lacks extra_info or positive stats")
    return data


def _rows(data: dict) -> tuple[list[dict], dict]:
    ceilings, rows = {}, []
    for bench in data["benchmarks"]:
        info, median = bench["extra_info"], bench["stats"]["median"]
        if info.get("kind") == "ceiling":
            # A ceiling is the best the machine did: its fastest round, not its median.
            work = info.get("flops") or info.get("bytes")
            ceilings[(info["device"], info["ceiling"])] = work / bench["stats"]["min"] / 1e9
        elif info.get("kind") == "hotpath":
            rows.append({**info, "median_s": median, "images_per_s": info["batch"] / median,
                         "gflops": info["flops_per_image"] * info["batch"] / median / 1e9})
    for row in rows:
        sgemm = ceilings.get((row["device"], "sgemm"))
        row["pct_ceiling"] = 100 * row["gflops"] / sgemm if sgemm else float("nan")
        base = [r for r in rows if r["device"] == row["device"] and r["stage"] == row["stage"]
                and r["mode"] == row["mode"] and r["batch"] == row["batch"] and r["variant"] == "eager_nchw"]
        row["vs_eager"] = base[0]["median_s"] / row["median_s"] if base else float("nan")
    return rows, ceilings


def table(path: str | Path) -> str:
    rows, ceilings = _rows(load_run(path))
    lines = ["ceilings: " + ", ".join(f"{dev} {name} {v:,.1f} {'GFLOP/s' if name == 'sgemm' else 'GB/s'}" for (dev, name), v in ceilings.items())]
    lines.append(f"{'device':<8}{'stage':<7}{'mode':<8}{'batch':>6}  {'variant':<16}{'images/s':>12}{'GFLOP/s':>10}{'% SGEMM':>9}{'× eager':>9}")
    for r in rows:
        lines.append(f"{r['device']:<8}{r['stage']:<7}{r['mode']:<8}{r['batch']:>6}  {r['variant']:<16}"
                     f"{r['images_per_s']:>12,.0f}{r['gflops']:>10.1f}{r['pct_ceiling']:>8.1f}%{r['vs_eager']:>9.2f}")
    return "\n".join(lines)


def compare_runs(a: str | Path, b: str | Path) -> str:
    """Ratios B/A of images/s for configurations present in both runs (two releases, two devices)."""
    rows_a, _ = _rows(load_run(a))
    rows_b, _ = _rows(load_run(b))
    key = lambda r: (r["stage"], r["mode"], r["batch"], r["variant"])  # noqa: E731
    index_b = {key(r): r for r in rows_b}
    lines = [f"{'stage':<7}{'mode':<8}{'batch':>6}  {'variant':<16}{'A images/s':>12}{'B images/s':>12}{'B/A':>7}{'A %SGEMM':>10}{'B %SGEMM':>10}"]
    for r in rows_a:
        other = index_b.get(key(r))
        if other is None:
            continue
        lines.append(f"{r['stage']:<7}{r['mode']:<8}{r['batch']:>6}  {r['variant']:<16}{r['images_per_s']:>12,.0f}"
                     f"{other['images_per_s']:>12,.0f}{other['images_per_s'] / r['images_per_s']:>7.2f}"
                     f"{r['pct_ceiling']:>9.1f}%{other['pct_ceiling']:>9.1f}%")
    only = sorted(set(map(key, rows_a)) ^ set(index_b))
    if only:
        lines.append(f"{len(only)} configurations appear in one run only")
    return "\n".join(lines)
