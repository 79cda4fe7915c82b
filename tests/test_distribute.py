"""tf.distribute: strategies from --distribute, data parts per worker, and real two-worker training."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from keras_lie.data import load_source
from keras_lie.data.image_files import transform_path
from keras_lie.distribute import cluster_config, make_strategy
from keras_lie.errors import KerasLieError
from keras_lie.keys import generate_key

from conftest import write_image_tree

WORKER = r"""
import hashlib, json, sys
from pathlib import Path
import numpy as np
from keras_lie.distribute import make_strategy
strategy = make_strategy("multi-worker")  # collectives are configured at start-up, before any other op
from keras_lie.data.sources import ImageSource
from keras_lie.experiments import prepare, run_configuration

output, data, record, epochs = sys.argv[1:5]
seen = []
shard = ImageSource.shard
def recorded(self, count, index):  # what this worker reads
    part = shard(self, count, index)
    # A TFDS directory's part names no files: what it read is known by its images' digests.
    images = None if part.files else sorted(hashlib.sha256(image.numpy().tobytes()).hexdigest()
                                            for image, _ in part.dataset)
    seen.append({"count": count, "index": index, "split": self.name, "files": part.files, "images": images})
    return part
ImageSource.shard = recorded
overrides = {"data": data, "epochs": int(epochs), "batch_size": 8, "learning_rate": 0.05, "augment": False}
settings, _, train_source, test_source = prepare("quick", overrides, None, encrypted=True)
model, results = run_configuration(settings, train_source, test_source, "learnable", output, stem={},
                                   stem_input_mode="bytes", strategy=strategy, verbose=1)
np.savez(record + ".npz", *model.get_weights())
Path(record).write_text(json.dumps({"seen": seen, "loss": results["history"]["loss"],
                                    "test_accuracy": results["test_accuracy"], "strategy": results["config"]["strategy"],
                                    "initial_epoch": results["config"]["initial_epoch"]}))
"""


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_workers(tmp_path, epochs: int, data: str = "encrypted") -> list[dict]:
    """Two worker processes on 127.0.0.1 (free ports), bounded in time and always ended."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    processes = []
    try:
        for index in range(2):
            config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            processes.append(subprocess.Popen(
                [sys.executable, "-c", WORKER, str(tmp_path / "run"), str(tmp_path / data),
                 str(tmp_path / f"worker{index}.json"), str(epochs)],
                env={**os.environ, "TF_CONFIG": config, "TF_CPP_MIN_LOG_LEVEL": "3"},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outputs = [process.communicate(timeout=420) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
    weights = [np.load(tmp_path / f"worker{i}.json.npz") for i in range(2)]
    for name in weights[0].files:  # synchronous training: the same model on both workers
        np.testing.assert_allclose(weights[0][name], weights[1][name], rtol=1e-5, atol=1e-6)
    records = [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(2)]
    for record, (stdout, _) in zip(records, outputs, strict=True):
        record["stdout"] = stdout
    return records


def test_two_local_workers_train_in_sync_on_their_own_parts_and_resume(tmp_path, rng):
    tree = write_image_tree(tmp_path / "plain", rng, per_class=8, size=16)
    key = generate_key("learnable", block_size=4, seed=3)
    assert transform_path(tree, tmp_path / "encrypted", key).ok  # with its manifest: the trainer needs no key
    records = run_workers(tmp_path, epochs=4)
    for record in records:
        assert record["strategy"] == "MultiWorkerMirroredStrategy" and record["initial_epoch"] == 0
        assert record["loss"][-1] < record["loss"][0]
    # Each worker read its own half of each split, and together they read every file once.
    for split in ("train", "test"):
        parts = [[s for s in record["seen"] if s["split"].endswith(f"/{split}")] for record in records]
        # once each over the 4 epochs: the dataset (and its cache) is built once per worker
        assert [[(s["count"], s["index"]) for s in part] for part in parts] == [[(2, 0)], [(2, 1)]]
        files = [set(part[0]["files"]) for part in parts]
        assert files[0].isdisjoint(files[1]) and len(files[0]) == len(files[1]) == 12  # 24 images a split
    # Keras' callbacks ran as under fit: the schedule, the CSV log, the chief's progress bar.
    assert "Epoch 4/4" in records[0]["stdout"] and "Epoch" not in records[1]["stdout"]
    # Only the chief wrote the run.
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    rates = results["history"]["learning_rate"]
    assert rates[0] == pytest.approx(0.05) and rates == sorted(rates, reverse=True) and rates[-1] < rates[0]
    header = (tmp_path / "run" / "log.csv").read_text().splitlines()[0]
    assert header.startswith("epoch,accuracy,learning_rate,loss")  # then CSVLogger's val_ columns, NA as under fit
    assert results["config"]["strategy"] == "MultiWorkerMirroredStrategy" and len(results["history"]["loss"]) == 4
    assert (tmp_path / "run" / "last.keras").is_file() and (tmp_path / "run" / "log.csv").read_text().count("\n") == 5
    # As if the run had stopped after its second epoch: both workers resume from the chief's checkpoint.
    (tmp_path / "run" / "state.json").write_text(json.dumps({"next_epoch": 2}))
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    (tmp_path / "run" / "log.csv").write_text("\n".join(log[:3]) + "\n")
    resumed = run_workers(tmp_path, epochs=4)
    assert [record["initial_epoch"] for record in resumed] == [2, 2]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert len(results["history"]["loss"]) == 4 and results["history"]["loss"][:2] == records[0]["loss"][:2]


def test_parts_of_a_source_are_equal_disjoint_and_decode_only_their_files(tmp_path, rng):
    tree = write_image_tree(tmp_path / "tree", rng, splits=("train",), per_class=5, size=8)
    source = load_source(tree, "train")
    parts = [source.shard(2, index) for index in range(2)]
    assert [part.size for part in parts] == [7, 7] and set(parts[0].files).isdisjoint(parts[1].files)
    images = [np.stack([image.numpy() for image, _ in part.dataset]) for part in parts]
    everything = np.stack([image.numpy() for image, _ in source.dataset])[:14]
    np.testing.assert_array_equal(np.concatenate([images[0], images[1]])[np.argsort(
        [*range(0, 14, 2), *range(1, 14, 2)])], everything)
    with pytest.raises(ValueError, match="not in 0..1"):
        source.shard(2, 2)


def test_strategies_from_the_command_line_vocabulary(monkeypatch):
    assert make_strategy("none") is None
    with pytest.raises(ValueError, match="distribute must be one of"):
        make_strategy("horovod")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(KerasLieError, match="TF_CONFIG environment variable, which is not set"):
        make_strategy("multi-worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(KerasLieError, match="not a cluster description"):
        cluster_config()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker",
                                                                                                "index": 3}}))
    with pytest.raises(KerasLieError, match="not one of its cluster's workers"):
        cluster_config()


RECALIBRATION = r"""
import tensorflow as tf
strategy = tf.distribute.MultiWorkerMirroredStrategy()  # one local worker
import numpy as np, keras
from keras_lie.training import train
data = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 3), "float32"), np.zeros(4, "int64"))).batch(2)
build = lambda: keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2, "softmax")])
try:
    train(build, data, epochs=1, strategy=strategy, recalibrate_batch_norm_steps=1)
except ValueError as error:
    print("refused:", error)
"""


def test_recalibration_under_multi_worker_training_is_refused_clearly():
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    result = subprocess.run([sys.executable, "-c", RECALIBRATION], capture_output=True, text=True, timeout=300,
                            env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert "refused: recalibrate_batch_norm_steps does not run under MultiWorkerMirroredStrategy" in result.stdout, \
        result.stderr[-2000:]


# MirroredStrategy on two logical CPU devices (in a subprocess: devices are fixed at start-up).
MIRRORED_SCRIPT = """
import functools
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import keras_lie
from keras_lie.models import build_classifier, pyramidnet

from keras_lie.training import train

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
key = keras_lie.generate_key("learnable", seed=1)
builder = functools.partial(build_classifier, key, backbone=functools.partial(pyramidnet, depth=8, alpha=4),
                            input_shape=(16, 16, 3), num_classes=3, stem_input_mode="nibbles")
x = keras_lie.encrypt(np.random.default_rng(0).integers(0, 256, (16, 16, 16, 3), dtype=np.uint8), key)
data = tf.data.Dataset.from_tensor_slices((x.astype("float32"), np.arange(16) % 3)).batch(8)
model, results = train(builder, data, data, epochs=1, learning_rate=0.01, strategy=strategy, verbose=0)
assert np.isfinite(results["history"]["loss"][0])
assert results["config"]["strategy"] == "MirroredStrategy"
assert len(getattr(model.trainable_weights[0].value, "values", ())) == 2  # mirrored on both devices
print("ok", strategy.num_replicas_in_sync)
"""


def test_mirrored_strategy_on_two_logical_cpus():
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT], capture_output=True, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok 2" in result.stdout


def test_two_local_workers_train_on_disjoint_shards_of_a_tfds_directory(tmp_path, rng):
    pytest.importorskip("apache_beam", reason='the TFDS writer needs apache-beam: pip install "keras-lie[beam]"')
    from keras_lie.shards import encrypt_to_tfds

    tree = write_image_tree(tmp_path / "plain", rng, per_class=8, size=16)
    key = generate_key("learnable", block_size=4, seed=3)
    key.save(tmp_path / "key.json")
    encrypt_to_tfds(tree, tmp_path / "shards", tmp_path / "key.json", num_shards=4,
                    pipeline_args=["--runner=DirectRunner", "--direct_running_mode=in_memory"])
    records = run_workers(tmp_path, epochs=1, data="shards")
    assert all(record["strategy"] == "MultiWorkerMirroredStrategy" for record in records)
    for split in ("train", "test"):
        parts = [[s for s in record["seen"] if s["split"].endswith(f"/{split}")] for record in records]
        assert [[(s["count"], s["index"]) for s in part] for part in parts] == [[(2, 0)], [(2, 1)]]
        images = [set(part[0]["images"]) for part in parts]
        # Whole shard files per worker: no image is read by both, and each reads an equal number.
        assert images[0].isdisjoint(images[1]) and len(parts[0][0]["images"]) == len(parts[1][0]["images"]) > 0
    assert "loss:" in records[0]["stdout"] and "loss:" not in records[1]["stdout"]  # the chief's progress bar
    assert json.loads((tmp_path / "run" / "results.json").read_text())["config"]["strategy"] == \
        "MultiWorkerMirroredStrategy"
