"""Folder encryption: `keras-lie encrypt` on a folder beside a plain decode-and-write loop.

The baseline is a single-process loop that only decodes each image and writes it
as PNG with Pillow (no encryption, no atomic writes). Both run as fresh
processes, so `keras-lie encrypt`'s start-up (importing TensorFlow, compiling)
is included. The two run alternately, `--repeats` times each, each after a sync
(so no run pays for the writes of the one before), and the ratio is given per
pair. Also reports images/s for photo-sized images. Prints a table and writes JSON.

    python benchmarks/folder_encryption.py --folder /tmp/cifar10/test   # a class-folder tree of images
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = """
import sys
from pathlib import Path
from PIL import Image
source, target = Path(sys.argv[1]), Path(sys.argv[2])
for path in sorted(source.rglob("*")):
    if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".gif"):
        out = target / path.relative_to(source).with_suffix(".png")
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.open(path).convert("RGB").save(out)
"""


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return time.perf_counter() - start


def settle() -> None:
    """Flush earlier runs' writes, so that no run pays for the one before it (this disk is shared and noisy)."""
    os.sync()
    time.sleep(1.0)


def count_images(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".gif"))


def compare(label: str, folder: Path, scratch: Path, cli: list[str], repeats: int) -> dict:
    """Baseline and keras-lie alternately, `repeats` times each, each into a new folder."""
    images = count_images(folder)
    baseline_s, keras_lie_s = [], []
    for repeat in range(repeats):
        for times, command in (
            (baseline_s, [sys.executable, "-c", BASELINE, str(folder), str(scratch / f"baseline-{repeat}")]),
            (keras_lie_s, [*cli, "encrypt", "--quiet", "--key", str(scratch / "key.json"), str(folder),
                           str(scratch / f"encrypted-{repeat}")]),
        ):
            settle()
            times.append(timed(command))
        for name in (f"baseline-{repeat}", f"encrypted-{repeat}"):
            shutil.rmtree(scratch / name, ignore_errors=True)
    ratios = sorted(k / b for k, b in zip(keras_lie_s, baseline_s, strict=True))
    return {"workload": f"{images} {label}", "repeats": repeats, "baseline_s": baseline_s, "keras_lie_s": keras_lie_s,
            "ratio_median": statistics.median(ratios), "ratio_min": ratios[0], "ratio_max": ratios[-1],
            "keras_lie_images_per_s": images / statistics.median(keras_lie_s)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True, help="a class-folder tree of images")
    parser.add_argument("--photos", type=int, default=8, help="photo-sized (3000 x 4000) images to time")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each; ratios are per pair")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "folder_encryption.json")
    args = parser.parse_args(argv)
    cli = [sys.executable, "-m", "keras_lie.cli"]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        subprocess.run([*cli, "keygen", "-o", str(scratch / "key.json")], check=True, stdout=subprocess.DEVNULL)
        rows = [compare(f"images of {args.folder.name}", args.folder, scratch, cli, args.repeats)]
        if args.photos:
            import numpy as np
            from PIL import Image

            photos = scratch / "photos" / "camera"
            photos.mkdir(parents=True)
            rng = np.random.default_rng(0)
            base = rng.integers(0, 256, (3000 // 8, 4000 // 8, 3), dtype=np.uint8)
            for i in range(args.photos):  # smooth, photo-like content compresses like a photo
                image = np.kron(np.roll(base, i, axis=1), np.ones((8, 8, 1), np.uint8))
                Image.fromarray(image).save(photos / f"{i:03d}.jpg", quality=90)
            rows.append(compare("photos of 3000 x 4000", photos.parent, scratch, cli, args.repeats))
    print(f"{'workload':<32} {'Pillow loop s':>14} {'keras-lie s':>12} {'ratio (min-max)':>20} {'keras-lie img/s':>16}")
    for row in rows:
        ratio = f"{row['ratio_median']:.2f} ({row['ratio_min']:.2f}-{row['ratio_max']:.2f})"
        print(f"{row['workload']:<32} {statistics.median(row['baseline_s']):>14.2f} "
              f"{statistics.median(row['keras_lie_s']):>12.2f} {ratio:>20} {row['keras_lie_images_per_s']:>16.1f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"rows": rows}, indent=1))
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
