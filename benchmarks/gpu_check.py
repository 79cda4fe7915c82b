"""The prepared GPU check: step times, encryption throughput and the paper preset's cost, in one run.

Made to fit in 8 minutes on one GPU (and to run on CPU with tiny sizes, as its test does):

1. Training step time of PyramidNet-110 (alpha 48) with the bytes and nibbles block stems against no
   stem, under mixed precision and XLA (ratios to no stem);
2. encryption throughput of every scheme on the device (tensors in and out, XLA), and of the CPU
   lane kernel of the nibble schemes run on the device, to check that the fused gather is the
   better kernel there (the schemes use the lane kernel on CPU-only machines);
3. one epoch of each Table I row of the `paper` preset (the rows of `keras-lie reproduce`, ELE and
   EtC included) on synthetic CIFAR-sized data, and the time that implies for the full schedule
   (300 epochs of 50,000 images); the timed epoch includes tracing and compilation, so the estimate
   is an upper bound. Rows that no longer fit the time budget are listed as skipped.

It prints a table per part and writes JSON.

    python benchmarks/gpu_check.py                       # on the GPU machine
    python benchmarks/gpu_check.py --depth 8 --alpha 8 --batch 8 --steps 1 --images 64 \\
        --epoch-images 32 --rows plain,ele-vit            # a smoke run on CPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encryption_throughput import best_seconds  # noqa: E402
from model_step_time import build, step_seconds  # noqa: E402

from keras_lie.data.sources import ImageSource  # noqa: E402
from keras_lie.experiments import PRESETS, run_configuration  # noqa: E402
from keras_lie.experiments.reproduce import table_i_rows  # noqa: E402
from keras_lie.keys import BLOCK_WISE_SCHEMES, POSITION_KEYED_SCHEMES, generate_key  # noqa: E402
from keras_lie.schemes import get_scheme  # noqa: E402

SCHEMES = ("plain", "cat_map", "block_shuffle", "learnable", "ele", "etc")
PAPER_IMAGES = 50_000  # CIFAR-10's training set, the paper preset's epoch


def step_times(args) -> list[dict]:
    """Seconds per training step, mixed precision and XLA, for no stem and both stems."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.batch, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, args.batch)
    policy = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    previous = keras.config.dtype_policy()
    rows = []
    try:
        keras.config.set_dtype_policy(policy)
        base = None
        for variant in ("no stem", "stem bytes", "stem nibbles"):
            keras.utils.clear_session()
            seconds = step_seconds(build(variant, args.depth, args.alpha), "xla", x, y, args.steps)
            base = seconds if base is None else base
            rows.append({"variant": variant, "policy": policy, "seconds_per_step": seconds, "vs_no_stem": seconds / base})
    finally:
        keras.config.set_dtype_policy(previous)
    return rows


def throughput(args) -> list[dict]:
    """Images per second of every scheme's XLA tensor path on the default device."""
    rng = np.random.default_rng(0)
    images = tf.constant(rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8))
    copy = best_seconds(lambda: tf.identity(images + 0).numpy(), 3)
    rows = [{"scheme": "memory copy (tf)", "images_per_s": args.images / copy, "vs_copy": 1.0}]
    for name in SCHEMES:
        block_size = 4 if name in BLOCK_WISE_SCHEMES + POSITION_KEYED_SCHEMES else None
        scheme = get_scheme(generate_key(name, block_size=block_size, seed=0, image_size=(32, 32)))
        seconds = best_seconds(lambda scheme=scheme: scheme.encrypt(images), 3)
        rows.append({"scheme": name, "images_per_s": args.images / seconds, "vs_copy": copy / seconds})
        if name in ("learnable", "ele"):  # the nibble schemes: their lane kernel, which the dispatch skips here
            unit_height = scheme.block_size if scheme.same_map_in_every_block else 32
            lanes = scheme._lane_transform("encrypt", unit_height, 32)
            seconds = best_seconds(lambda lanes=lanes: lanes(images), 3)
            rows.append({"scheme": f"{name} (lane kernel)", "images_per_s": args.images / seconds,
                         "vs_copy": copy / seconds})
    return rows


def synthetic_source(count: int, seed: int) -> ImageSource:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, count).astype(np.int64)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    return ImageSource(dataset, [str(i) for i in range(10)], count, f"synthetic ({count} CIFAR-sized images)")


def paper_epochs(args, deadline: float) -> list[dict]:
    """One epoch of each Table I row at the paper preset's network and batch, and the full schedule it implies."""
    import dataclasses

    preset = PRESETS["paper"]
    settings = dataclasses.replace(preset, epochs=1, depth=args.depth, alpha=args.alpha, batch_size=args.batch,
                                   mixed_precision=True, train_size=args.epoch_images)
    train_source, test_source = synthetic_source(args.epoch_images, 0), synthetic_source(args.batch, 1)
    wanted = set(args.rows.split(",")) if args.rows else None
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for plan in table_i_rows(SCHEMES):
            if wanted is not None and plan.row not in wanted:
                continue
            if time.monotonic() > deadline:
                rows.append({"row": plan.row, "skipped": "time budget"})
                continue
            _, result = run_configuration(settings, train_source, test_source, plan.scheme, Path(scratch) / plan.row,
                                          stem=plan.stem, stem_input_mode=plan.stem_input_mode, backbone=plan.backbone,
                                          validation_freq=1, verbose=0,
                                          # timing only: the recipe's key-free stem initialisation is left out
                                          **{k: v for k, v in plan.options.items() if k != "stem_data_init"})
            per_epoch = result["wall_time_s"] * PAPER_IMAGES / args.epoch_images
            rows.append({"row": plan.row, "backbone": plan.backbone, "network": plan.network,
                         "epoch_images": args.epoch_images, "seconds": result["wall_time_s"],
                         "seconds_per_paper_epoch": per_epoch, "hours_for_paper_schedule": per_epoch * preset.epochs / 3600})
    return rows


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=110, help="PyramidNet depth (the paper preset's: 110)")
    parser.add_argument("--alpha", type=float, default=48)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per variant")
    parser.add_argument("--images", type=int, default=50_000, help="images for the encryption throughput")
    parser.add_argument("--epoch-images", type=int, default=10_000,
                        help="images in each row's timed epoch (scaled to 50,000 for the estimate)")
    parser.add_argument("--rows", default="", help="comma-separated Table I rows to time (default: all)")
    parser.add_argument("--budget-s", type=float, default=420, help="stop starting new rows after this many seconds")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "gpu_check.json")
    args = parser.parse_args(argv)
    start = time.monotonic()
    devices = [d.name for d in tf.config.list_logical_devices() if d.device_type in ("GPU", "TPU")] or ["CPU only"]
    result = {"machine": {"platform": platform.platform(), "devices": devices, "tensorflow": tf.__version__},
              "arguments": {k: str(v) for k, v in vars(args).items()}}
    result["step_time"] = step_times(args)
    print(f"\nTraining step, PyramidNet-{args.depth} alpha {args.alpha:g}, batch {args.batch}, XLA, "
          f"{result['step_time'][0]['policy']}")
    for row in result["step_time"]:
        print(f"  {row['variant']:<13} {row['seconds_per_step'] * 1000:9.1f} ms  x{row['vs_no_stem']:.3f}")
    result["encryption"] = throughput(args)
    print(f"\nEncryption, {args.images} images of 32x32x3, XLA tensor path")
    for row in result["encryption"]:
        print(f"  {row['scheme']:<24} {row['images_per_s']:14,.0f} img/s  {row['vs_copy']:.3f} of a copy")
    result["paper_epochs"] = paper_epochs(args, start + args.budget_s)
    print(f"\nOne epoch of each Table I row ({args.epoch_images} images, mixed precision), scaled to the paper preset")
    for row in result["paper_epochs"]:
        if "skipped" in row:
            print(f"  {row['row']:<22} skipped ({row['skipped']})")
        else:
            print(f"  {row['row']:<22} {row['seconds']:8.1f} s  -> {row['hours_for_paper_schedule']:7.2f} h for 300 "
                  "epochs of 50,000")
    result["wall_s"] = time.monotonic() - start
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    print(f"\n{result['wall_s']:.0f} s; wrote {args.output}")
    return result


if __name__ == "__main__":
    main()
