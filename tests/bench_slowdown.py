"""A planted slowdown for ``refsuite bench``: the pool-first "both" stage (NCHW input) does its work
``factor`` times, by running on its batch plus ``factor - 1`` of it again and keeping the rows of
the batch. Outputs and gradients stay those of eager NCHW, so the variant passes its check and is
timed. Only ``pool_first`` at stage ``both`` (fwd and fwdbwd) is affected: ``cl_pool_first``'s input
is channels_last, the other variants are not pool-first, and the whole net is another stage.

Used by tests/test_bench_verdict.py, and as a script to measure what ``--compare`` catches::

    python tests/bench_slowdown.py 1.5 --quick --json c.json    # then refsuite bench --compare a.json c.json
"""
from __future__ import annotations

import sys

import torch

from refsuite.bench import variants

SLOWED = ("both", "pool_first")


def slowed_stage_fn(factor: float):
    original = variants.stage_fn

    def stage_fn(net, stage, pool_first=False, block=None):
        fn = original(net, stage, pool_first=pool_first, block=block)
        if stage != SLOWED[0] or not pool_first:
            return fn

        def slowed(x):
            if not x.is_contiguous():
                return fn(x)  # channels_last: cl_pool_first stays as it is
            extra = x[: round((factor - 1) * len(x))]
            return fn(torch.cat([x, extra]))[: len(x)]

        return slowed

    return stage_fn


def plant(monkeypatch, factor: float = 2.0) -> None:
    monkeypatch.setattr(variants, "stage_fn", slowed_stage_fn(factor))


if __name__ == "__main__":
    from refsuite import cli

    variants.stage_fn = slowed_stage_fn(float(sys.argv[1]))
    sys.exit(cli.main(["bench", *sys.argv[2:]]))
