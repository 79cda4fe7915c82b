"""Multi-worker training reading a sharded TFDS dataset: one worker against two, on this machine.

The dataset is written by `keras_lie.shards.encrypt_to_tfds` (train and test
splits of a class-folder tree, `--shards` shards each). Then, for one and for
two workers (MultiWorkerMirroredStrategy, processes on 127.0.0.1), each worker:

1. reads its own shard files of the train split once through `make_pipeline`
   (no cache): the input throughput each worker gets, and the images it read;
2. trains the quick preset's PyramidNet on its part for `--epochs` epochs with
   the global batch `--batch-size` (as `keras-lie train --distribute
   multi-worker` does): the wall time of the epochs after the first (which also
   builds and compiles).

One worker alone runs the same script without a cluster. Workers run
alternately with the single process, `--repeats` times. Prints a table and
writes JSON. On one machine the two workers share its cores: this measures the
reading and the synchronisation, not a cluster's speed-up.

    python benchmarks/multi_worker_shards.py --folder /tmp/cifar10/test --images-per-class 500
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKER = r"""
import json, sys, time
from keras_lie.distribute import make_strategy
workers = int(sys.argv[4])
strategy = make_strategy("multi-worker") if workers > 1 else None  # collectives first, before any other op
import keras
from keras_lie.data import load_source, make_pipeline
from keras_lie.experiments import prepare, run_configuration

data, output, record, epochs, batch_size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[5]), int(sys.argv[6])
index = strategy.cluster_resolver.task_id if strategy else 0
source = load_source(data, "train", encrypted=True)
part = source.shard(workers, index) if workers > 1 else source
start = time.perf_counter()
read = sum(int(labels.shape[0]) for _, labels in make_pipeline(part, None, batch_size=batch_size // workers, cache=False))
input_s = time.perf_counter() - start

class EpochTimes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)

times = EpochTimes()
# Every image: a size of None would keep the quick preset's 512.
overrides = {"data": data, "epochs": epochs, "batch_size": batch_size, "train_size": 10**9, "test_size": 10**9,
             "augment": False}
settings, _, train_source, test_source = prepare("quick", overrides, None, encrypted=True)
run_configuration(settings, train_source, test_source, "learnable", output, stem={}, stem_input_mode="bytes",
                  strategy=strategy, verbose=0, validation_freq=epochs, callbacks=[times])
json.dump({"worker": index, "images_read": read, "input_s": input_s, "epoch_s": times.times},
          open(record, "w"))
"""


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run(workers: int, dataset: Path, scratch: Path, epochs: int, batch_size: int, timeout: int) -> dict:
    """`workers` worker processes (127.0.0.1, bounded in time, always ended); their records and the wall time."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(workers)]}
    output = scratch / f"run-{workers}-{time.monotonic_ns()}"
    processes = []
    start = time.perf_counter()
    try:
        for index in range(workers):
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
            if workers > 1:
                env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            processes.append(subprocess.Popen(
                [sys.executable, "-c", WORKER, str(dataset), str(output), str(output) + f"-{index}.json",
                 str(workers), str(epochs), str(batch_size)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        errors = [process.communicate(timeout=timeout)[1] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    wall = time.perf_counter() - start
    for process, error in zip(processes, errors, strict=True):
        if process.returncode:
            raise SystemExit(f"a worker failed:\n{error[-3000:]}")
    records = [json.loads(Path(str(output) + f"-{index}.json").read_text()) for index in range(workers)]
    steady = [statistics.median(record["epoch_s"][1:] or record["epoch_s"]) for record in records]
    return {"workers": workers, "wall_s": wall, "records": records,
            "images_read_per_worker": [record["images_read"] for record in records],
            "input_images_per_s_per_worker": [record["images_read"] / record["input_s"] for record in records],
            "input_images_per_s_total": sum(r["images_read"] for r in records) / max(r["input_s"] for r in records),
            "epoch_s": max(steady)}


def sample_tree(folder: Path, target: Path, per_class: int, test_fraction: float) -> Path:
    """A train/test tree of links to `per_class` images of each class of `folder` (ROOT/<class>/<image>)."""
    for klass in sorted(p for p in folder.iterdir() if p.is_dir()):
        images = sorted(p for p in klass.iterdir() if p.is_file())[:per_class]
        cut = round(len(images) * (1 - test_fraction))
        for split, members in (("train", images[:cut]), ("test", images[cut:])):
            (target / split / klass.name).mkdir(parents=True, exist_ok=True)
            for image in members:
                (target / split / klass.name / image.name).symlink_to(image.resolve())
    return target


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True, help="a tree ROOT/<class>/<image> (e.g. CIFAR-10 test)")
    parser.add_argument("--images-per-class", type=int, default=500)
    parser.add_argument("--shards", type=int, default=8, help="shards per split")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128, help="the global batch")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=900, help="seconds a run may take before it is ended")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "multi_worker_shards.json")
    args = parser.parse_args(argv)
    from keras_lie.keys import generate_key
    from keras_lie.shards import encrypt_to_tfds

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        tree = sample_tree(args.folder, scratch / "plain", args.images_per_class, test_fraction=0.2)
        generate_key("learnable", block_size=4).save(scratch / "key.json")
        encrypt_to_tfds(tree, scratch / "shards", scratch / "key.json", num_shards=args.shards)
        runs = []
        for _ in range(args.repeats):
            for workers in (1, 2):
                runs.append(run(workers, scratch / "shards", scratch, args.epochs, args.batch_size, args.timeout))
                print(json.dumps({key: value for key, value in runs[-1].items() if key != "records"}), flush=True)
    print(f"{'workers':>7} {'images/worker':>14} {'input img/s/worker':>19} {'input img/s total':>18} "
          f"{'epoch s':>8} {'wall s':>7}")
    for row in runs:
        per_worker = "/".join(f"{n}" for n in row["images_read_per_worker"])
        rates = "/".join(f"{rate:,.0f}" for rate in row["input_images_per_s_per_worker"])
        print(f"{row['workers']:>7} {per_worker:>14} {rates:>19} {row['input_images_per_s_total']:>18,.0f} "
              f"{row['epoch_s']:>8.2f} {row['wall_s']:>7.1f}")
    one = [row["epoch_s"] for row in runs if row["workers"] == 1]
    two = [row["epoch_s"] for row in runs if row["workers"] == 2]
    ratios = sorted(b / a for a, b in zip(one, two, strict=True))
    print(f"Two workers' epoch / one worker's: {statistics.median(ratios):.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f})")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"settings": vars(args) | {"folder": str(args.folder),
                                                                  "output": str(args.output)},
                                       "runs": runs, "two_over_one_epoch_median": statistics.median(ratios)},
                                      indent=1))
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
