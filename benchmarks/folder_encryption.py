"""Folder encryption: `keras-lie encrypt` on a folder beside a plain decode-and-write loop.

The baseline is a single-process loop that only decodes each image and writes it
as PNG with Pillow (no encryption, no atomic writes). Both run as fresh
processes, so `keras-lie encrypt`'s start-up (importing TensorFlow, compiling)
is included. The two run alternately, `--repeats` times each, each after a sync
(so no run pays for the writes of the one before), and the ratio is given per
pair. Also reports images/s for photo-sized images. Prints a table and writes JSON.

With `--tfds`, `keras-lie encrypt --format tfds` (the Apache Beam pipeline on the
DirectRunner, every local core) runs in the same alternation, and the training
input is timed: one pass of `make_pipeline` over the sharded TFDS directory
against one over the folder of PNG files, both encrypted, no cache.

    python benchmarks/folder_encryption.py --folder /tmp/cifar10/test   # a class-folder tree of images
    python benchmarks/folder_encryption.py --folder /tmp/cifar10/test --tfds --photos 200 --photo-size 768x1024
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


def compare(label: str, folder: Path, scratch: Path, cli: list[str], repeats: int, tfds: bool = False) -> dict:
    """Baseline and keras-lie (and the Beam pipeline) alternately, `repeats` times each, each into a new folder."""
    images = count_images(folder)
    scratch = scratch / f"outputs-{folder.name}"  # each workload's outputs apart
    scratch.mkdir()
    baseline_s, keras_lie_s, beam_s = [], [], []
    for repeat in range(repeats):
        runs = [
            (baseline_s, [sys.executable, "-c", BASELINE, str(folder), str(scratch / f"baseline-{repeat}")]),
            (keras_lie_s, [*cli, "encrypt", "--quiet", "--key", str(scratch.parent / "key.json"), str(folder),
                           str(scratch / f"encrypted-{repeat}")]),
        ]
        if tfds:
            runs.append((beam_s, [*cli, "encrypt", "--format", "tfds", "--key", str(scratch.parent / "key.json"), str(folder),
                                  str(scratch / f"tfds-{repeat}")]))
        for times, command in runs:
            settle()
            times.append(timed(command))
        for name in (f"baseline-{repeat}", f"encrypted-{repeat}", f"tfds-{repeat}"):
            if repeat < repeats - 1 or not name.startswith(("encrypted", "tfds")):
                shutil.rmtree(scratch / name, ignore_errors=True)  # the last outputs stay for the input timing
    ratios = sorted(k / b for k, b in zip(keras_lie_s, baseline_s, strict=True))
    row = {"workload": f"{images} {label}", "repeats": repeats, "baseline_s": baseline_s, "keras_lie_s": keras_lie_s,
           "ratio_median": statistics.median(ratios), "ratio_min": ratios[0], "ratio_max": ratios[-1],
           "keras_lie_images_per_s": images / statistics.median(keras_lie_s)}
    if tfds:
        beam_ratios = sorted(b / k for b, k in zip(beam_s, keras_lie_s, strict=True))
        row.update({"beam_s": beam_s, "beam_vs_folder_median": statistics.median(beam_ratios),
                    "beam_vs_folder_min": beam_ratios[0], "beam_vs_folder_max": beam_ratios[-1],
                    "beam_vs_pillow_median": statistics.median(b / p for b, p in zip(beam_s, baseline_s, strict=True)),
                    "beam_images_per_s": images / statistics.median(beam_s),
                    "folder_output": str(scratch / f"encrypted-{repeats - 1}"),
                    "tfds_output": str(scratch / f"tfds-{repeats - 1}")})
    return row


def input_throughput(folder: str, tfds_dir: str, repeats: int) -> dict:
    """Images/s of one pass of the training input (make_pipeline, no cache) over each format, alternately."""
    from keras_lie.data import load_source, make_pipeline

    seconds = {"png_folder": [], "tfds_shards": []}
    for _ in range(repeats):
        for label, path in (("png_folder", folder), ("tfds_shards", tfds_dir)):
            settle()
            start = time.perf_counter()
            source = load_source(path, "test", encrypted=True)
            count = sum(int(labels.shape[0]) for _, labels in make_pipeline(source, None, batch_size=128, cache=False))
            seconds[label].append(time.perf_counter() - start)
    ratios = sorted(p / t for p, t in zip(seconds["png_folder"], seconds["tfds_shards"], strict=True))
    return {"images": count, "seconds": seconds, "shards_vs_png_median": statistics.median(ratios),
            "shards_vs_png_min": ratios[0], "shards_vs_png_max": ratios[-1],
            "png_images_per_s": count / statistics.median(seconds["png_folder"]),
            "shards_images_per_s": count / statistics.median(seconds["tfds_shards"])}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True, help="a class-folder tree of images")
    parser.add_argument("--photos", type=int, default=8, help="photo-sized (3000 x 4000) images to time")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each; ratios are per pair")
    parser.add_argument("--photo-size", default="3000x4000", help="HxW of the photo-sized images")
    parser.add_argument("--tfds", action="store_true",
                        help="also the Beam pipeline into TFDS shards, and the training input from each format")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "folder_encryption.json")
    args = parser.parse_args(argv)
    cli = [sys.executable, "-m", "keras_lie.cli"]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        subprocess.run([*cli, "keygen", "-o", str(scratch / "key.json")], check=True, stdout=subprocess.DEVNULL)
        rows = [compare(f"images of {args.folder.name}", args.folder, scratch, cli, args.repeats, args.tfds)]
        print(json.dumps(rows[0]), flush=True)  # as it comes: the photos take long
        inputs = None
        if args.tfds:
            inputs = input_throughput(rows[0]["folder_output"], rows[0]["tfds_output"], args.repeats)
            print(json.dumps(inputs), flush=True)
        if args.photos:
            import numpy as np
            from PIL import Image

            height, width = (int(v) for v in args.photo_size.lower().split("x"))
            photos = scratch / "photos" / "train" / "camera"
            photos.mkdir(parents=True)
            rng = np.random.default_rng(0)
            base = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
            for i in range(args.photos):  # smooth, photo-like content compresses like a photo
                image = np.kron(np.roll(base, i, axis=1), np.ones((8, 8, 1), np.uint8))
                Image.fromarray(image).save(photos / f"{i:03d}.jpg", quality=90)
            rows.append(compare(f"photos of {height} x {width}", photos.parent.parent, scratch, cli, args.repeats,
                                args.tfds))
    print(f"{'workload':<32} {'Pillow loop s':>14} {'keras-lie s':>12} {'ratio (min-max)':>20} {'keras-lie img/s':>16}")
    for row in rows:
        ratio = f"{row['ratio_median']:.2f} ({row['ratio_min']:.2f}-{row['ratio_max']:.2f})"
        print(f"{row['workload']:<32} {statistics.median(row['baseline_s']):>14.2f} "
              f"{statistics.median(row['keras_lie_s']):>12.2f} {ratio:>20} {row['keras_lie_images_per_s']:>16.1f}")
        if "beam_s" in row:
            print(f"{'  Beam pipeline into TFDS shards':<32} {'':>14} {statistics.median(row['beam_s']):>12.2f} "
                  f"{row['beam_vs_folder_median']:>9.2f} x folder ({row['beam_vs_folder_min']:.2f}-"
                  f"{row['beam_vs_folder_max']:.2f}), {row['beam_vs_pillow_median']:.2f} x Pillow, "
                  f"{row['beam_images_per_s']:.1f} img/s")
    if inputs is not None:
        print(f"Training input, one pass of {inputs['images']} encrypted images: PNG folder "
              f"{inputs['png_images_per_s']:,.0f} img/s, TFDS shards {inputs['shards_images_per_s']:,.0f} img/s, "
              f"{inputs['shards_vs_png_median']:.2f} x ({inputs['shards_vs_png_min']:.2f}-{inputs['shards_vs_png_max']:.2f})")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"rows": rows, "training_input": inputs}, indent=1))
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
