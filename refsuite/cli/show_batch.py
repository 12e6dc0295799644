"""``refsuite show-batch``: the tutorial's "look at a batch" as a PNG with its labels."""
from __future__ import annotations

import argparse
from .. import options


def configure(p: argparse.ArgumentParser) -> None:
    options.add_to_argparse(p, options.DATA)
    p.add_argument("--seed", type=options.at_least(0), default=0, help="seed of the shuffled batch (default: 0)")
    p.add_argument("--out", required=True, metavar="PATH", help="PNG path to write (required)")


def main(args: argparse.Namespace) -> int:
    import sys

    from ..core.records import OutputError, check_writable, replacing
    from ..tutorial import data, golden

    out = check_writable(args.out, "--out")
    dataset = options.dataset_selection(args).load()
    images, labels = data.first_batch(dataset.train, seed=args.seed, channels=dataset.channels)
    names = [golden.ABBREVIATIONS.get(c, c) for c in dataset.classes]
    print(data.label_line(labels, names))
    try:
        with replacing(out) as tmp:
            data.save_grid_png(data.unnormalized_grid(images), [names[int(j)] for j in labels], tmp)
    except OutputError as exc:  # the batch was made: a failed write is a failure, not a usage error
        print(f"refsuite show-batch: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({dataset.name}, batch of {len(labels)})")
    return 0
