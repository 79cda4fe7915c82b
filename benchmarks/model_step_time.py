"""Training step time of a PyramidNet with and without the BlockStem (bytes and nibbles).

Batch 128 of 32x32x3 images, SGD; eager (run_eagerly), graph (tf.function) and XLA.
All variants run in the same process, interleaved, so read the ratios.

    python benchmarks/model_step_time.py [--depth 110 --alpha 48 --steps 3 --modes graph,xla]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_lie.models import build_classifier, pyramidnet  # noqa: E402


def build(variant: str, depth: int, alpha: float) -> keras.Model:
    backbone = functools.partial(pyramidnet, depth=depth, alpha=alpha)
    if variant == "no stem":
        inputs = keras.Input((32, 32, 3))
        scaled = keras.layers.Rescaling(1 / 255)(inputs)
        return keras.Model(inputs, backbone(input_shape=(32, 32, 3), num_classes=10)(scaled))
    mode = variant.removeprefix("stem ")
    return build_classifier("learnable", backbone=backbone, stem_input_mode=mode, num_classes=10)


def step_seconds(model, mode: str, x, y, steps: int) -> float:
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        loss="sparse_categorical_crossentropy",
        run_eagerly=mode == "eager",
        jit_compile=mode == "xla",
    )
    model.train_on_batch(x, y)  # tracing / compilation
    model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=110)
    parser.add_argument("--alpha", type=float, default=48)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--modes", default="eager,graph,xla")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "model_step_time.json")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.batch, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, args.batch)
    variants = ("no stem", "stem bytes", "stem nibbles")
    rows = []
    for mode in args.modes.split(","):
        base = None
        for variant in variants:
            keras.utils.clear_session()
            model = build(variant, args.depth, args.alpha)
            seconds = step_seconds(model, mode, x, y, args.steps)
            base = seconds if variant == "no stem" else base
            rows.append({"mode": mode, "variant": variant, "seconds_per_step": seconds,
                         "vs_no_stem": seconds / base, "parameters": model.count_params()})
            print(f"{mode:<6} {variant:<13} {seconds:8.3f} s/step  x{seconds / base:5.3f}", flush=True)
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "tensorflow": tf.__version__},
        "depth": args.depth, "alpha": args.alpha, "batch": args.batch, "steps": args.steps, "rows": rows,
    }
    print(f"\nPyramidNet-{args.depth} alpha {args.alpha:g}, batch {args.batch}, median of {args.steps} steps")
    print(f"{'mode':<6} {'variant':<13} {'s/step':>8} {'vs no stem':>11}")
    for row in rows:
        print(f"{row['mode']:<6} {row['variant']:<13} {row['seconds_per_step']:8.3f} {row['vs_no_stem']:11.3f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
