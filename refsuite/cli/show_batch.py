"""``refsuite show-batch``: the tutorial's "look at a batch" as a PNG with its labels."""
from __future__ import annotations

import argparse

from .. import options
from .exit_codes import Exit


def configure(p: argparse.ArgumentParser) -> None:
    options.add_to_argparse(p, options.DATA)
    p.add_argument("--seed", type=options.at_least(0), default=0, help="seed of the shuffled batch (default: 0)")
    p.add_argument("--out", required=True, metavar="PATH", help="PNG path to write (required)")


def main(args: argparse.Namespace) -> int:
    from ..core.records import check_writable, replacing
    from ..tutorial import data, golden

    out = check_writable(args.out, "--out")
    dataset = options.dataset_selection(args).load()
    images, labels = data.first_batch(dataset.train, seed=args.seed, channels=dataset.channels)
    names = [golden.ABBREVIATIONS.get(c, c) for c in dataset.classes]
    print(data.label_line(labels, names))
    # a failed write raises OutputError: the batch was made, so it is a failure (exit 1), not a usage error
    with replacing(out) as tmp:
        data.save_grid_png(data.unnormalized_grid(images), [names[int(j)] for j in labels], tmp)
    print(f"wrote {out} ({dataset.name}, batch of {len(labels)})")
    return Exit.OK
