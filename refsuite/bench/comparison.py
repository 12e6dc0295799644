"""The report of ``refsuite bench --compare A B``: what was compared, a verdict per configuration, a summary."""
from __future__ import annotations

from pathlib import Path

from ..core.exit_codes import Exit
from .report import with_spread
from .runs import Run, load_run, spread
from .verdict import ALPHA, BASES, Judgement, choose_basis, judge, machine, pair_keys

VERDICTS = ("slower", "faster", "unchanged", "not judged")


def describe(label: str, run: Run) -> str:
    info, hw = run.machine_info, machine(run)
    where = ", ".join(str(v) for v in (hw["node"], hw["cpu"], hw["gpu"]) if v)
    return (f"{label}: {run.path}: torch {info.get('torch', '?')}, devices {', '.join(sorted(run.devices)) or 'none'}, "
            f"{where or 'machine unknown'}, {run.rounds()} rounds")


def _ceiling_lines(a: Run, b: Run, to_b, threshold: float) -> list[str]:
    lines = []
    for (dev, name), rounds_a in a.ceilings.items():
        rounds_b = b.ceilings.get((to_b((dev,))[0], name))
        if rounds_b is None:
            continue
        j = judge(f"{dev} {name}", list(rounds_a.values()), list(rounds_b.values()), threshold)
        unit = "GFLOP/s" if name == "sgemm" else "GB/s"
        lines.append(f"ceiling {dev} {name} ({unit}): A {with_spread(j.a, ',.1f')}, B {with_spread(j.b, ',.1f')}, "
                     f"×{j.ratio:.2f}: {j.verdict}{f' ({j.why})' if j.why else ''}")
        if j.verdict in ("slower", "faster"):
            lines.append("  the ceiling itself moved: the machine's state (other load, clocks) or the release's "
                         "SGEMM differs between the runs; --basis ceiling compares fractions of it instead")
    return lines


def _row(key: tuple, ra: list[dict], rb: list[dict], j: Judgement, basis: str) -> str:
    device, stage, mode, batch, variant = key
    rate = spread([r["images_per_s"] for r in rb])[0] / spread([r["images_per_s"] for r in ra])[0]
    of_ceiling = spread([r["pct_ceiling"] for r in rb])[0] / spread([r["pct_ceiling"] for r in ra])[0]
    mark = {"time": ("*", " "), "ceiling": (" ", "*")}[basis]
    return (f"{device:<8}{stage:<7}{mode:<8}{batch:>6}  {variant:<17}"
            f"{with_spread([r['images_per_s'] for r in ra], ',.0f'):>16}{with_spread([r['images_per_s'] for r in rb], ',.0f'):>16}"
            f"{rate:>7.2f}{mark[0]}{of_ceiling:>9.2f}{mark[1]}{j.p:>7.3f}  {j.verdict}")


def _summary(judged: list[Judgement]) -> list[str]:
    lines = []
    for verdict in VERDICTS:
        these = [j for j in judged if j.verdict == verdict]
        lines.append(f"{verdict} ({len(these)})" + (":" if these and verdict != "unchanged" else ""))
        if verdict != "unchanged":
            lines += [f"  {j.name}: " + (j.why if j.why else f"×{j.ratio:.2f}, p = {j.p:.3f}") for j in these]
    return lines


def compare_runs(path_a: str | Path, path_b: str | Path, threshold: float, basis: str = "auto") -> tuple[str, int]:
    """The report, and the exit status: FAILED when any configuration is slower in B, else OK."""
    a, b = load_run(path_a), load_run(path_b)
    basis, why = choose_basis(a, b, basis)
    keys, to_b = pair_keys(a, b)
    lines = [describe("A", a), describe("B", b),
             f"compared: {'images/s' if basis == 'time' else 'the fraction of each round’s own SGEMM ceiling'} ({why}); "
             f"a change is beyond ±{100 * threshold:g} % and separated by a two-sided Mann-Whitney U test "
             f"on the rounds at p < {ALPHA}"]
    lines += _ceiling_lines(a, b, to_b, threshold)
    lines.append(f"{'device':<8}{'stage':<7}{'mode':<8}{'batch':>6}  {'variant':<17}{'A images/s':>16}{'B images/s':>16}"
                 f"{'×rate':>7} {'×ceiling':>9} {'p':>7}  verdict   (×: B/A of images/s, of the fraction of "
                 "the ceiling; * the one judged)")
    judged = []
    for key in keys:
        ra, rb = a.configs[key], b.configs[to_b(key)]
        name = " ".join(map(str, key if to_b(key) == key else (f"{key[0]}→{to_b(key)[0]}", *key[1:])))
        j = judge(name, [r[BASES[basis]] for r in ra], [r[BASES[basis]] for r in rb], threshold)
        judged.append(j)
        lines.append(_row(key, ra, rb, j, basis))
    only_a = len(a.configs) - len(keys)
    only_b = len(b.configs) - len(keys)
    if only_a or only_b:
        lines.append(f"configurations in one run only: {only_a} only in A, {only_b} only in B")
    lines += _summary(judged)
    slower = any(j.verdict == "slower" for j in judged)
    lines.append(f"verdict: {'SLOWER' if slower else 'no configuration slower'}")
    return "\n".join(lines), Exit.FAILED if slower else Exit.OK
