"""Encryption throughput: images per second per scheme, eager vs tf.function vs XLA.

For the nibble schemes (learnable, ELE), whose eager XLA calls take the lane kernel on a CPU, the
fused one-gather-per-nibble kernel is timed beside it ("fused gather, tensor"), and the tensor path
and the memory copy are timed again with the caches flushed before each run.

Beside a plain memory copy of the same bytes and a direct NumPy transcription of
the proposed scheme, measured in the same run (timing on a shared machine is
noisy: read the ratios). Prints a table and writes JSON.

Also the latency of one call on small inputs (one image, eight, one 480x640 frame: the camera's case).

Also the first call in a fresh process and the first call at each new batch size against a warm call,
and (with `--authors-code DIR`, a checkout of github.com/mastnk/ICCE-TW2018) the authors' own
`BlockScramble.doScramble` run batched on the same images with the same key.

    python benchmarks/encryption_throughput.py [--small 10000] [--large 16] [--repeats 5] [--latency-calls 200]
        [--authors-code DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_lie  # noqa: E402
from keras_lie.keys import BLOCK_WISE_SCHEMES, MAX_KEY_ENTRIES, POSITION_KEYED_SCHEMES, generate_key  # noqa: E402
from keras_lie.schemes import get_scheme  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from numpy_oracle import numpy_learnable_encrypt  # noqa: E402

SCHEMES = ("learnable", "ele", "etc", "block_shuffle", "cat_map", "plain")


def timed_runs(function, repeats: int, before_each=None) -> list[float]:
    """Seconds of `repeats` calls of `function` after one untimed warm-up call; `before_each()` runs untimed."""
    function()  # warm-up: tracing and XLA compilation are not throughput
    _wait_for_compilation()
    times = []
    for _ in range(repeats):
        if before_each is not None:
            before_each()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def _wait_for_compilation() -> None:
    """Let keras-lie's background compilation of piece sizes finish: it would compete with the timing."""
    import threading

    for thread in threading.enumerate():
        if thread.name == "keras-lie piece compilation":
            thread.join()


def best_seconds(function, repeats: int) -> float:
    return min(timed_runs(function, repeats))


def cold_seconds(function, repeats: int) -> float:
    """Best time of `function` with the caches flushed before every run (not the warm-up)."""
    flush = np.zeros(128 << 20, np.uint8)  # larger than the last-level caches of common machines

    def evict():
        flush[::64] += 1  # one write per cache line evicts whatever was cached

    return min(timed_runs(function, repeats, before_each=evict))


def measure(images: np.ndarray, repeats: int) -> list[dict]:
    n = len(images)
    tensor = tf.constant(images)
    rows = []

    def add(scheme, mode, seconds):
        rows.append({"scheme": scheme, "mode": mode, "images_per_s": n / seconds, "seconds": seconds})

    add("memory copy", "numpy", best_seconds(lambda: images.copy(), repeats))
    learnable_key = generate_key("learnable", block_size=4, channels=3, seed=0)
    add("learnable", "numpy transcription", best_seconds(lambda: numpy_learnable_encrypt(images, learnable_key), repeats))
    for name in SCHEMES:
        if name == "ele" and images[0].size * 2 > MAX_KEY_ENTRIES:
            continue  # an ELE key holds two values per image byte: none fits a megapixel image (see the README)
        key = generate_key(name, block_size=4 if name in BLOCK_WISE_SCHEMES + POSITION_KEYED_SCHEMES else None,
                           channels=3, seed=0, image_size=images.shape[1:3])
        eager = get_scheme(key, jit_compile=False)
        graph = tf.function(eager.encrypt)
        xla = get_scheme(key, jit_compile=True)
        add(name, "eager", best_seconds(lambda eager=eager: eager.encrypt(tensor).numpy(), repeats))
        add(name, "tf.function", best_seconds(lambda graph=graph: graph(tensor).numpy(), repeats))
        add(name, "xla", best_seconds(lambda xla=xla: xla.encrypt(tensor).numpy(), repeats))
        add(name, "xla, tensor in/out", best_seconds(lambda xla=xla: xla.encrypt(tensor), repeats))
        if name in ("learnable", "ele"):  # the nibble schemes take the lane kernel on a CPU; the fused gather beside it
            fused = xla._compiled_transform("encrypt", *images.shape[1:3])
            add(name, "fused gather, tensor", best_seconds(lambda fused=fused: fused(tensor), repeats))
            # Timed back to back, a copy finds much of its source in the last-level cache (here 30 MB of
            # images against 32 MB of cache), and so does the encryption: both timed again with cold caches.
            cold_ratio = cold_seconds(lambda: images.copy(), repeats) / cold_seconds(lambda xla=xla: xla.encrypt(tensor),
                                                                                   repeats)
            tensor_row = next(r for r in rows if r["scheme"] == name and r["mode"] == "xla, tensor in/out")
            tensor_row["cold_cache_vs_memory_copy"] = cold_ratio
        add(name, "keras_lie.encrypt", best_seconds(lambda key=key: keras_lie.encrypt(images, key), repeats))
    return rows


def authors_code(images: np.ndarray, directory: Path, repeats: int) -> list[dict]:
    """The authors' published implementation (BlockScramble.py of github.com/mastnk/ICCE-TW2018), batched.

    Their `doScramble` takes the uint8 batch as it is; it runs on the same images with
    the same key beside `keras_lie.encrypt`, after checking that both give the same bytes.
    """
    from keras_lie.keys import LearnableKey

    sys.path.insert(0, str(directory))
    from BlockScramble import BlockScramble  # noqa: PLC0415 - the user's checkout, not part of keras-lie

    authors = BlockScramble([4, 4, 3])  # a fresh key from their own generator
    key = LearnableKey(4, 3, np.asarray(authors.key, np.int64))
    if not np.array_equal(authors.doScramble(images.copy(), authors.key, authors.rev), keras_lie.encrypt(images, key)):
        raise SystemExit("The authors' code and keras_lie.encrypt disagree: not timing them.")
    n = len(images)
    theirs = best_seconds(lambda: authors.doScramble(images.copy(), authors.key, authors.rev), repeats)
    ours = best_seconds(lambda: keras_lie.encrypt(images, key), repeats)
    return [{"scheme": "learnable", "mode": "authors' code (doScramble, batched)", "images_per_s": n / theirs},
            {"scheme": "learnable", "mode": "keras_lie.encrypt, same run", "images_per_s": n / ours,
             "vs_authors_code": theirs / ours}]


NEW_BATCH_SIZES = (9999, 5000, 333, 7, 1)

FIRST_CALL = """
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
start = time.perf_counter()
import numpy as np, tensorflow as tf, keras_lie
from keras_lie.keys import generate_key
imported = time.perf_counter()
key = generate_key(sys.argv[1], block_size=4, image_size=(32, 32))
images = np.random.default_rng(0).integers(0, 256, (int(sys.argv[2]), 32, 32, 3), np.uint8)
begin = time.perf_counter()
keras_lie.encrypt(images, key)
print(json.dumps({"import_s": imported - start, "first_call_s": time.perf_counter() - begin}))
"""


def batch_sizes(repeats: int, count: int) -> list[dict]:
    """The first call in a fresh process, and the first call at a new batch size against a warm one at it."""
    import subprocess

    rows = []
    for name in ("learnable", "ele"):
        fresh = json.loads(subprocess.run([sys.executable, "-c", FIRST_CALL, name, str(count)], capture_output=True,
                                          text=True, check=True).stdout.strip().splitlines()[-1])
        key = generate_key(name, block_size=4, image_size=(32, 32))
        images = np.random.default_rng(2).integers(0, 256, (count, 32, 32, 3), np.uint8)
        keras_lie.encrypt(images, key)
        _wait_for_compilation()  # the other piece sizes compile on a second thread meanwhile (about half a second)
        row = {"scheme": name, "import_s": fresh["import_s"], "first_call_s": fresh["first_call_s"], "sizes": []}
        for size in [size for size in NEW_BATCH_SIZES if size < count] or [max(1, count - 1)]:
            start = time.perf_counter()
            keras_lie.encrypt(images[:size], key)
            new = time.perf_counter() - start
            warm = min(timed_runs(lambda size=size, images=images, key=key: keras_lie.encrypt(images[:size], key),
                                  repeats))
            row["sizes"].append({"batch": size, "new_ms": new * 1e3, "warm_ms": warm * 1e3, "ratio": new / warm})
        rows.append(row)
    return rows


LATENCY_SHAPES = {"one 32x32x3 image": (32, 32, 3), "8 images of 32x32x3": (8, 32, 32, 3),
                  "one 480x640x3 frame": (480, 640, 3)}


def latency(calls: int) -> list[dict]:
    """Median time of one call of the proposed scheme on small inputs (the camera's case), tensor and NumPy."""
    rng = np.random.default_rng(1)
    key = generate_key("learnable", block_size=4, channels=3, seed=0)
    scheme = get_scheme(key)
    rows = []
    for label, shape in LATENCY_SHAPES.items():
        images = rng.integers(0, 256, shape, dtype=np.uint8)
        tensor = tf.constant(images)
        for mode, function in (("xla, tensor in/out", lambda tensor=tensor: scheme.encrypt(tensor)),
                               ("keras_lie.encrypt", lambda images=images: keras_lie.encrypt(images, key))):
            times = timed_runs(function, calls)
            rows.append({"input": label, "mode": mode, "median_us": float(np.median(times)) * 1e6,
                         "best_us": min(times) * 1e6})
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000, help="number of 32x32x3 images")
    parser.add_argument("--large", type=int, default=16, help="number of 1024x1024x3 images")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row, best taken")
    parser.add_argument("--latency-calls", type=int, default=200, help="calls per latency row, median taken")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "encryption_throughput.json")
    parser.add_argument("--authors-code", type=Path, metavar="DIR",
                        help="a checkout of github.com/mastnk/ICCE-TW2018 (BlockScramble.py): time it beside keras-lie")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    results = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "tensorflow": tf.__version__},
        "workloads": {},
    }
    for label, shape in (("32x32x3", (args.small, 32, 32, 3)), ("1024x1024x3", (args.large, 1024, 1024, 3))):
        images = rng.integers(0, 256, shape, dtype=np.uint8)
        rows = measure(images, args.repeats)
        baseline = next(r for r in rows if r["mode"] == "numpy transcription")["images_per_s"]
        copy = next(r for r in rows if r["scheme"] == "memory copy")["images_per_s"]
        for row in rows:
            row["vs_numpy_transcription"] = row["images_per_s"] / baseline
            row["vs_memory_copy"] = row["images_per_s"] / copy
        results["workloads"][label] = {"images": shape[0], "rows": rows}
        print(f"\n{shape[0]} images of {label}")
        print(f"{'scheme':<14} {'mode':<20} {'images/s':>12} {'x numpy':>9} {'x copy':>8}")
        for row in rows:
            print(f"{row['scheme']:<14} {row['mode']:<20} {row['images_per_s']:>12,.0f} "
                  f"{row['vs_numpy_transcription']:>9.1f} {row['vs_memory_copy']:>8.3f}")
        for row in rows:
            if "cold_cache_vs_memory_copy" in row:
                print(f"{row['scheme']} tensor path / memory copy, both with cold caches: "
                      f"{row['cold_cache_vs_memory_copy']:.3f}")
    if args.authors_code is not None:
        images = rng.integers(0, 256, (args.small, 32, 32, 3), dtype=np.uint8)
        results["authors_code"] = authors_code(images, args.authors_code, args.repeats)
        print(f"\nThe authors' code against keras_lie.encrypt, {args.small} images of 32x32x3, same key, same run")
        for row in results["authors_code"]:
            print(f"{row['mode']:<40} {row['images_per_s']:>12,.0f} images/s"
                  + (f"  ({row['vs_authors_code']:.1f}x the authors')" if "vs_authors_code" in row else ""))
    results["batch_sizes"] = batch_sizes(args.repeats, args.small)
    print(f"\nFirst call in a fresh process ({args.small} images of 32x32x3, after the imports), and new batch sizes")
    for row in results["batch_sizes"]:
        print(f"{row['scheme']}: imports {row['import_s']:.2f} s, first call {row['first_call_s']:.2f} s")
        for size in row["sizes"]:
            print(f"  batch {size['batch']:>5}: first {size['new_ms']:8.2f} ms, warm {size['warm_ms']:8.2f} ms, "
                  f"ratio {size['ratio']:.1f}")
    results["latency"] = latency(args.latency_calls)
    print(f"\nLatency of one call, proposed scheme (median of {args.latency_calls} calls)")
    print(f"{'input':<22} {'mode':<20} {'median':>10} {'best':>10}")
    for row in results["latency"]:
        print(f"{row['input']:<22} {row['mode']:<20} {row['median_us']:>8.0f}us {row['best_us']:>8.0f}us")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1))
    print(f"\nWrote {args.output}")


if __name__ == "__main__":
    main()
