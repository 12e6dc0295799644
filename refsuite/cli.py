"""The ``refsuite`` command: run, list, doctor (and the dataset/training tools).

``run`` drives pytest with refsuite's plugin rather than re-implementing a runner.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

from . import __version__


def _add_selection(p: argparse.ArgumentParser, device: bool = True) -> None:
    if device:
        p.add_argument("--device", action="append", default=[], help="cpu, cuda, cuda:1, mps, all... (repeatable)")
    p.add_argument("--dataset", default=None, help="dataset plugin (default: synthetic-cifar10)")
    p.add_argument("--data-root", default=None, help="dataset directory (env REFSUITE_DATA_ROOT)")
    p.add_argument("--download", action="store_true", help="let the dataset plugin download missing files")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="refsuite", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"refsuite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run every registered unit (through pytest)")
    _add_selection(run)
    run.add_argument("-k", dest="keyword", default=None, help="pytest -k expression over unit ids")
    run.add_argument("--strict", action="store_true", help="a skipped unit is a failure")
    run.add_argument("--runslow", action="store_true", help="also run units marked slow")
    run.add_argument("--profile", default=None, choices=("dev", "ci", "thorough"), help="hypothesis profile (default ci)")
    run.add_argument("--junitxml", default=None, metavar="PATH", help="write a JUnit XML report")
    run.add_argument("--record", "--json", dest="record", default=None, metavar="PATH", help="write per-unit results as JSON")
    run.add_argument("-v", "--verbose", action="count", default=0)
    run.add_argument("-x", "--exitfirst", action="store_true")
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: passed to pytest unchanged")

    lst = sub.add_parser("list", help="list units: id, section, summary, requirements")
    lst.add_argument("glob", nargs="?", default="*", help="glob over unit ids, e.g. 'tensors.*'")

    sub.add_parser("doctor", help="versions, devices, datasets, providers and plugin failures")

    show = sub.add_parser("show-batch", help="write a PNG of a training batch and its labels, as the tutorial shows")
    _add_selection(show, device=False)
    show.add_argument("--seed", type=int, default=0, help="seed of the shuffled batch")
    show.add_argument("--out", required=True, help="PNG path to write")

    train = sub.add_parser("train", help="train the tutorial's Net; write metrics.json and a loss curve")
    _add_selection(train)
    train.add_argument("--epochs", type=int, default=2)
    train.add_argument("--batch-size", type=int, default=None, help="default 4 (the tutorial), 32 with --fast")
    train.add_argument("--lr", type=float, default=0.001)
    train.add_argument("--momentum", type=float, default=0.9)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--window", type=int, default=0, help="mini-batches per running-loss line (default: ~6 per epoch)")
    train.add_argument("--threads", type=int, default=None, help="torch intra-op threads on CPU (default: chosen, see README)")
    train.add_argument("--fast", action="store_true", help="same model and data: large batch, one-cycle schedule")
    train.add_argument("--out", default="refsuite-train", help="directory for metrics.json and loss.png")

    cmp = sub.add_parser("compare", help="drift report between two `refsuite run --record` files")
    cmp.add_argument("a", help="the baseline record (e.g. the oldest torch)")
    cmp.add_argument("b", help="the record to compare (e.g. the newest torch)")
    cmp.add_argument("--factor", type=float, default=10.0, help="report errors that moved by more than this factor")

    bench = sub.add_parser("bench", help="benchmark the conv/pool hot path (pytest-benchmark) and print one table")
    bench.add_argument("--device", action="append", default=[], help="device(s) to benchmark (default cpu)")
    bench.add_argument("--quick", action="store_true", help="batch 256, the two composite stages only")
    bench.add_argument("--json", default=None, metavar="PATH", help="keep pytest-benchmark's JSON (loads in --benchmark-compare)")
    bench.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"), help="print B/A ratios of two saved runs")
    bench.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: passed to pytest unchanged")
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    from . import train_job
    from ._devices import resolve_devices
    from ._discovery import discover
    from .training import Recipe

    out = Path(args.out)
    train_job.check_writable(out)
    (device,) = resolve_devices(args.device[:1] or ["cpu"], discover().devices)
    batch = args.batch_size or (32 if args.fast else 4)
    recipe = Recipe(epochs=args.epochs, batch_size=batch, lr=args.lr, momentum=args.momentum, seed=args.seed, window=args.window)
    return train_job.run(device.torch, _load_dataset(args), recipe, out, fast=args.fast, threads=args.threads)


def _pytest_isolated(argv: list[str], target: str | None = None) -> int:
    """Run pytest from an empty directory of its own, so only ``target`` (or the units) is collected.

    Paths in ``argv`` must be absolute: the run changes directory.
    """
    import pytest

    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="refsuite-run-") as tmp:
        ini = Path(tmp, "pytest.ini")
        ini.write_text("[pytest]\n")
        # refsuite is already imported (we are running), so pytest cannot rewrite its asserts;
        # the units' assertions carry their own messages, so that warning says nothing useful.
        base = [target or tmp, "-c", str(ini), "--rootdir", tmp, "-p", "no:cacheprovider",
                "-W", "ignore::pytest.PytestAssertRewriteWarning"]
        os.chdir(tmp)  # progress lines then show unit ids, not a temporary path
        try:
            return int(pytest.main(base + argv))
        finally:
            os.chdir(cwd)


def cmd_run(args: argparse.Namespace) -> int:
    for attr in ("data_root", "junitxml", "record"):
        if getattr(args, attr):
            setattr(args, attr, str(Path(getattr(args, attr)).expanduser().absolute()))
    argv = ["--units"]
    for device in args.device:
        argv += ["--device", device]
    for flag, value in (("--dataset", args.dataset), ("--data-root", args.data_root), ("-k", args.keyword),
                        ("--hypothesis-profile", args.profile), ("--junitxml", args.junitxml), ("--record", args.record)):
        if value:
            argv += [flag, value]
    for flag, on in (("--download", args.download), ("--strict-units", args.strict), ("--runslow", args.runslow),
                     ("-x", args.exitfirst)):
        if on:
            argv.append(flag)
    argv += ["-v"] * args.verbose
    argv += [a for a in args.pytest_args if a != "--"]
    return _pytest_isolated(argv)


def cmd_list(args: argparse.Namespace) -> int:
    from ._discovery import discover

    plugins = discover()
    chosen = plugins.units.select(args.glob)
    if not chosen:
        print(f"no units match {args.glob!r} ({len(plugins.units)} registered)", file=sys.stderr)
        return 1
    width = max(len(u.id) for u in chosen)
    for unit in chosen:
        print(f"{unit.id:<{width}}  {unit.section:<10}  {unit.summary}  [requires: {unit.requires.describe()}]")
    print(f"\n{len(chosen)} of {len(plugins.units)} units")
    for provider in plugins.failures:
        print(f"warning: {provider.label} failed to load (see `refsuite doctor`)", file=sys.stderr)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    import torch

    from ._discovery import discover
    from .datasets.base import DATA_ROOT_ENV

    plugins = discover()
    try:
        import torchvision

        tv = torchvision.__version__
    except Exception as exc:  # doctor reports, it does not crash
        tv = f"unavailable ({exc})"
    print(f"refsuite {__version__}")
    print(f"python {platform.python_version()} ({sys.executable})")
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()})")
    print(f"torchvision {tv}")
    print(f"threads: intra-op {torch.get_num_threads()}, inter-op {torch.get_num_interop_threads()}")
    print("\ndevices:")
    for name, dtype in plugins.devices.items():
        facts = dtype.facts()
        state = "available" if facts["available"] else "not available"
        print(f"  {name:<6} {state:<14} count={facts['count']} capabilities={','.join(facts['capabilities'])}"
              f" tolerances={ {str(k).replace('torch.', ''): v for k, v in dtype.tolerances.items()} }")
        for label in facts.get("names", []):
            print(f"         {label}")
        print(f"         dtypes: {' '.join(facts['dtypes'])}")
    print("\ndatasets:")
    for name, ds in plugins.datasets.items():
        problem = ds.problem(None, False)
        print(f"  {name:<18} {'available' if problem is None else 'not available: ' + problem}  {ds.description}")
    print(f"  (data root from --data-root or ${DATA_ROOT_ENV})")
    print("\nproviders:")
    for p in plugins.providers:
        if p.error is None:
            extra = f"{len(list(p.loaded))} units" if p.group == "refsuite.units" else ""
            print(f"  ok      {p.label}  {p.value}  {extra}")
    if plugins.failures:
        print("\nplugins that failed to load:")
        for p in plugins.failures:
            print(f"  FAILED  {p.label}  {p.value}")
            print("    " + p.error.rstrip().replace("\n", "\n    "))
    print(f"\n{len(plugins.units)} units registered")
    return 1 if plugins.failures else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from . import drift

    try:
        report, regressed = drift.compare(drift.load(args.a), drift.load(args.b), factor=args.factor)
    except (OSError, ValueError, KeyError) as exc:
        print(f"refsuite compare: error: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 1 if regressed else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import report

    if args.compare:
        print(report.compare(*args.compare))
        return 0
    # read by the benchmark module's parametrisation; restored so an in-process caller is unchanged
    quick_before = os.environ.pop("REFSUITE_BENCH_QUICK", None)
    if args.quick:
        os.environ["REFSUITE_BENCH_QUICK"] = "1"
    try:
        return _bench_table(args)
    finally:
        os.environ.pop("REFSUITE_BENCH_QUICK", None)
        if quick_before is not None:
            os.environ["REFSUITE_BENCH_QUICK"] = quick_before


def _bench_table(args: argparse.Namespace) -> int:
    from .bench import hotpath_bench, report

    with tempfile.TemporaryDirectory(prefix="refsuite-bench-") as tmp:
        json_path = Path(args.json).absolute() if args.json else Path(tmp, "bench.json")
        # no xdist: pytest-benchmark stops timing when it is active (a -n in addopts, or bench run
        # from inside an xdist worker)
        argv = ["-q", "--no-units", "-p", "no:xdist", "-p", "refsuite.bench.machine_info", "--benchmark-json", str(json_path),
                "--benchmark-columns=median,iqr,rounds", "--benchmark-sort=name"]
        for device in args.device:
            argv += ["--device", device]
        argv += [a for a in args.pytest_args if a != "--"]
        code = _pytest_isolated(argv, target=hotpath_bench.__file__)
        if json_path.exists():
            print(report.table(json_path))
            if args.json:
                print(f"wrote {json_path}")
        return code


def _load_dataset(args: argparse.Namespace):
    from ._discovery import discover
    from .datasets.base import DatasetSelection

    return DatasetSelection.from_options(discover().datasets, args.dataset, args.data_root, args.download).load()


def cmd_show_batch(args: argparse.Namespace) -> int:
    from . import batches, tutorial

    dataset = _load_dataset(args)
    images, labels = batches.first_batch(dataset.train, seed=args.seed, channels=dataset.channels)
    caption = batches.label_line(labels, [tutorial.ABBREVIATIONS.get(c, c) for c in dataset.classes])
    path = batches.save_grid_png(batches.unnormalized_grid(images), caption, Path(args.out))
    print(caption)
    print(f"wrote {path} ({dataset.name}, batch of {len(labels)})")
    return 0


COMMANDS = {"run": cmd_run, "list": cmd_list, "doctor": cmd_doctor, "show-batch": cmd_show_batch, "train": cmd_train, "bench": cmd_bench, "compare": cmd_compare}


def main(argv: list[str] | None = None) -> int:
    from ._errors import RefsuiteError

    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except RefsuiteError as exc:
        print(f"refsuite {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
