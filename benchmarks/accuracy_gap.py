"""The accuracy-gap experiment: plain vs encrypted training at equal budget, several seeds.

Rows: plain (bytes), plain (nibbles, equivariant stem), proposed with the paper's stem,
proposed with the key-equivariant stem, naive shuffle; backbones: PyramidNet after
depth-to-space, and a ConvMixer on the grid of blocks. Prints and writes a table of
mean and spread per row (results.md, results.json under --output), measured after
recalibrating batch normalisation and, in a second table, with its moving averages.

    python benchmarks/accuracy_gap.py --data ../shared/data/cifar10-jpeg.zip --preset cpu-small \
        --seeds 0,1,2 -o benchmarks/results/accuracy-gap
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_lie.experiments import (  # noqa: E402
    GAP_ATTEMPTS,
    GAP_DIAGNOSTICS,
    GAP_ROWS,
    PRESETS,
    TABLE_I_PYRAMIDNET_ROWS,
    TABLE_I_VIT_ATTEMPTS,
    TABLE_I_VIT_ROWS,
    accuracy_gap,
)

ROW_SETS = {
    "main": GAP_ROWS,
    "attempts": GAP_ATTEMPTS,
    "diagnostics": GAP_DIAGNOSTICS,
    "all": GAP_ROWS + GAP_ATTEMPTS + GAP_DIAGNOSTICS,
    # keras-lie's recipe for the proposed scheme beside its reference, for checks on fresh seeds.
    "recipe": (GAP_ROWS[0], GAP_ATTEMPTS[1]),
    # The extended Table I (ELE, EtC): with --backbones vit, and with --backbones pyramidnet.
    "table-i-vit": TABLE_I_VIT_ROWS,
    "table-i-pyramidnet": TABLE_I_PYRAMIDNET_ROWS,
    "table-i-vit-attempts": TABLE_I_VIT_ATTEMPTS,
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="cifar10")
    parser.add_argument("--preset", default="cpu-small", choices=sorted(PRESETS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--backbones", default="pyramidnet,convmixer")
    parser.add_argument("--train-size", type=int)
    parser.add_argument("--test-size", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--rows", default="main",
                        help="comma-separated: main, attempts (key-free ways to lower the nibble cost), "
                             "diagnostics (uses the key), all, recipe, table-i-vit, table-i-pyramidnet")
    parser.add_argument("--output", "-o", default="benchmarks/results/accuracy-gap")
    parser.add_argument("--no-train", action="store_true",
                        help="train nothing: tabulate the runs already finished under --output")
    parser.add_argument("--no-recalibration", action="store_true",
                        help="tabulate the accuracies with the moving averages of batch normalisation only "
                             "(by default every run is also measured after recalibrate_batch_norm)")
    args = parser.parse_args(argv)
    summary = accuracy_gap(
        args.preset, output_dir=args.output, seeds=tuple(int(s) for s in args.seeds.split(",")),
        backbones=tuple(args.backbones.split(",")), data=args.data,
        rows=_rows(parser, args.rows), train_size=args.train_size,
        test_size=args.test_size, epochs=args.epochs, batch_size=args.batch_size,
        train_missing=not args.no_train, recalibrate_batch_norm=not args.no_recalibration,
    )
    print(summary["table"])


def _rows(parser: argparse.ArgumentParser, names: str) -> tuple:
    rows = []
    for name in names.split(","):
        if name not in ROW_SETS:
            parser.error(f"--rows: unknown row set {name!r}; choose from {', '.join(ROW_SETS)}")
        rows += [row for row in ROW_SETS[name] if row not in rows]
    return tuple(rows)


if __name__ == "__main__":
    main()
