"""``refsuite run --nproc N``: the run in N ranks, launched by torchrun's own entry point; and
what a rank other than 0 does differently (it prints nothing and writes no report files)."""
from __future__ import annotations

import argparse
import os
import sys

from .. import options
from ..core import ranks
from ..core.errors import UsageError
from .exit_codes import Exit


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nproc", type=options.at_least(1), default=None, metavar="N",
                   help="run in N processes on this host, launched by torchrun (torch.distributed.run): every "
                        "rank runs the units, rank 0 reports; the same as torchrun --nproc-per-node N -m "
                        "refsuite run ..., which multi-node runs use (default: one process, no launch)")


def worker_argv(argv: list[str]) -> list[str]:
    """``refsuite run``'s arguments without ``--nproc``, for each rank (pytest's after ``--`` kept as given)."""
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return out + argv[i:]
        if arg == "--nproc":
            i += 2
            continue
        if not arg.startswith("--nproc="):
            out.append(arg)
        i += 1
    return out


def launch(nproc: int, argv: list[str] | None = None) -> int:
    """Run ``refsuite`` with ``argv`` (default: this command's own) in ``nproc`` ranks through torchrun.

    ``--standalone``: a rendezvous on a free local port, so two launches on one host do not meet.
    The exit code is rank 0's (it carries every rank's verdict), or the first failed rank's.
    """
    if nproc < 1:
        raise UsageError(f"--nproc {nproc}: give the number of processes, 1 or more")
    if ranks.from_env() is not None:
        raise UsageError("--nproc inside a distributed launch (RANK/WORLD_SIZE are set): each rank would launch "
                         "its own; drop --nproc")
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    rest = worker_argv(sys.argv[1:] if argv is None else argv)
    config = get_args_parser().parse_args(["--standalone", "--nproc-per-node", str(nproc), "-m", "refsuite", *rest])
    try:
        run(config)
    except ChildFailedError as exc:
        failed = {f.rank: f.exitcode for f in exc.failures.values()}
        code = failed.get(0, next(iter(failed.values())))
        others = ", ".join(f"rank {r} exited with {c}" for r, c in sorted(failed.items()))
        print(f"refsuite run --nproc {nproc}: {others}", file=sys.stderr)
        return code if 0 < code < 256 else Exit.FAILED
    return Exit.OK


def quiet_unless_leader() -> ranks.World | None:
    """In a rank other than 0, send stdout to /dev/null: rank 0 prints the run's report for every
    rank (errors still reach stderr). Returns this process's place in the launch, if any."""
    world = ranks.from_env()
    if world is not None and not world.leader:
        sys.stdout.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return world
