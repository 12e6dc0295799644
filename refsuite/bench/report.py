"""refsuite bench's table of a saved run: every figure the median over rounds, with its spread."""
from __future__ import annotations

import math
from pathlib import Path

from .runs import Run, load_run, spread


def with_spread(values: list[float], fmt: str, relative: bool = True) -> str:
    """``median ±spread``: the interquartile range as a % of the median, or in the figure's own unit."""
    median, iqr = spread(values)
    if math.isnan(median):
        return "–"
    if relative:
        return f"{median:{fmt}} ±{100 * iqr / median if median else 0:.0f}%"
    return f"{median:{fmt}} ±{iqr:{fmt}}"


def ceilings_line(run: Run) -> str:
    parts = []
    for (dev, name), by_round in run.ceilings.items():
        unit = "GFLOP/s" if name == "sgemm" else "GB/s"
        parts.append(f"{dev} {name} {with_spread(list(by_round.values()), ',.1f').replace(' ±', f' {unit} ±')}")
    return "ceilings: " + (", ".join(parts) if parts else "none measured")


def table(path: str | Path) -> str:
    run = load_run(path)
    lines = [ceilings_line(run),
             f"each figure: the median of {run.rounds()} rounds ± its interquartile range "
             "(% SGEMM: of the same round's ceiling, spread in points)"]
    lines.append(f"{'device':<8}{'stage':<7}{'mode':<8}{'batch':>6}  {'variant':<17}{'images/s':>16}{'GFLOP/s':>9}"
                 f"{'% SGEMM':>15}{'× eager':>14}")
    for (device, stage, mode, batch, variant), rounds in run.configs.items():
        figure = lambda name: [r[name] for r in rounds]  # noqa: E731
        lines.append(f"{device:<8}{stage:<7}{mode:<8}{batch:>6}  {variant:<17}"
                     f"{with_spread(figure('images_per_s'), ',.0f'):>16}{spread(figure('gflops'))[0]:>9.1f}"
                     f"{with_spread(figure('pct_ceiling'), '.1f', relative=False):>15}"
                     f"{with_spread(figure('vs_eager'), '.2f', relative=False):>14}")
    return "\n".join(lines)
