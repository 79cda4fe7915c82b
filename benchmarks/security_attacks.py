"""The security measurements behind docs/security.md: every scheme, M = 4 and 8, two fresh keys each.

Runs `keras_lie.security.security_report` (ciphertext-only reconstruction against
the number of encrypted images held under one key, N in 1, 2, 3, 5, 20, 100, 1000;
known- and chosen-plaintext key recovery; visual metrics; key space) on CIFAR-10
test images with `--keys` fresh keys from the OS CSPRNG per scheme and block size,
prints the headline table and writes report.md, report.json and picture grids
(plain | encrypted | reconstruction) to --output.

    python benchmarks/security_attacks.py --data ../shared/data/cifar10-jpeg.zip --images 1000 -o /tmp/security-report

The schemes can be measured in parts (say, in two processes) and joined:
`--merge DIR ...` writes one report of the parts' report.json files (and their
grids) to --output without measuring anything.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from keras_lie.data import load_source
from keras_lie.keys import BLOCK_WISE_SCHEMES, POSITION_KEYED_SCHEMES, generate_key
from keras_lie.security import security_report
from keras_lie.security.rendering import headline, markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/cifar10-jpeg.zip"))
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--block-sizes", default="4,8")
    parser.add_argument("--schemes", default="plain,cat_map,block_shuffle,learnable,ele,etc")
    parser.add_argument("--keys", type=int, default=2, help="fresh keys per scheme and block size")
    parser.add_argument("--groups", type=int, default=3, help="disjoint image sets attacked per small count")
    parser.add_argument("--output", "-o", type=Path, default=Path("benchmarks/results/security"))
    parser.add_argument("--merge", type=Path, nargs="+", help="join the reports in these folders instead of measuring")
    args = parser.parse_args()
    if args.merge:
        summary = merge(args.merge, args.output)
        print("\n".join(headline(summary)))
        return
    source = load_source(args.data, "test", limit=args.images, seed=0)
    images = np.stack([image.numpy() for image, _ in source.dataset])
    args.output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    keys = [generate_key(scheme, block_size=m, channels=images.shape[-1], image_size=images.shape[1:3])
            for scheme in args.schemes.split(",")
            for m in ([int(m) for m in args.block_sizes.split(",")] if scheme in BLOCK_WISE_SCHEMES + POSITION_KEYED_SCHEMES
                      else [None])
            for _ in range(args.keys if scheme != "plain" else 1)]
    summary = security_report(images, args.output, keys=keys, attack_groups=args.groups,
                              command=f"python benchmarks/security_attacks.py --images {args.images} --keys {args.keys} "
                                      f"--groups {args.groups} --block-sizes {args.block_sizes} --schemes {args.schemes}")
    print("\n".join(headline(summary)))
    print(f"\n{time.perf_counter() - start:.0f} s; wrote {args.output}/report.md, report.json and picture grids")


def merge(parts: list[Path], output: Path) -> dict:
    """One report of several: results in the order given, each part's grids copied beside it."""
    summaries = [json.loads((part / "report.json").read_text()) for part in parts]
    summary = {**summaries[0], "results": [r for s in summaries for r in s["results"]],
               "command": " && ".join(s["command"] for s in summaries if s.get("command"))}
    output.mkdir(parents=True, exist_ok=True)
    for part in parts:
        for grid in part.glob("grid_*.png"):
            shutil.copyfile(grid, output / grid.name)
    (output / "report.json").write_text(json.dumps(summary, indent=1))
    (output / "report.md").write_text(markdown(summary))
    return summary


if __name__ == "__main__":
    main()
