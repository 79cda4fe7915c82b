"""Encryption into sharded TFDS datasets by an Apache Beam pipeline, and reading them back."""

import hashlib
import json

import numpy as np
import pytest

from keras_lie.data.image_files import read_image, write_png
from keras_lie.keys import LearnableKey
from keras_lie.schemes import get_scheme

from conftest import write_image_tree

beam = pytest.importorskip("apache_beam", reason='the Beam pipeline needs apache-beam: pip install "keras-lie[beam]"')
tfds = pytest.importorskip("tensorflow_datasets")

from keras_lie.shards import encrypt_to_tfds  # noqa: E402

IN_PROCESS = ["--runner=DirectRunner", "--direct_running_mode=in_memory"]


@pytest.fixture
def key_file(tmp_path):
    key = LearnableKey.generate(4)
    key.save(tmp_path / "key.json")
    return key, tmp_path / "key.json"


@pytest.fixture
def tree(tmp_path, rng):
    # 200 images: 2 splits x 4 classes x 25, 16 x 16.
    return write_image_tree(tmp_path / "tree", rng, classes=("a", "b", "c", "d"), per_class=25, size=16)


def test_two_hundred_images_into_four_shards_round_trip_and_load_without_keras_lie(tree, key_file, tmp_path):
    key, key_path = key_file
    # The default: the DirectRunner in multi-processing mode; the workers read the key file themselves.
    report = encrypt_to_tfds(tree, tmp_path / "out", key_path, num_shards=4,
                             pipeline_args=["--runner=DirectRunner", "--direct_running_mode=multi_processing",
                                            "--direct_num_workers=2"])
    assert report.ok
    out = tmp_path / "out"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.json", "out", "tree"]  # no staging left
    shards = sorted(p.name for p in out.glob("*.tfrecord-*"))
    assert len(shards) == 8 and "keras_lie_encrypted-train.tfrecord-00000-of-00004" in shards
    # TFDS alone loads it.
    builder = tfds.builder_from_directory(str(out))
    assert builder.info.splits["train"].num_examples == 100 and builder.info.splits["test"].num_examples == 100
    assert builder.info.features["label"].names == ["a", "b", "c", "d"]
    scheme = get_scheme(key)
    seen = set()
    for split in ("train", "test"):
        for example in tfds.as_numpy(builder.as_dataset(split=split)):
            example_id = example["id"].decode()
            source = tree / example_id
            assert example_id.startswith(f"{split}/")
            assert builder.info.features["label"].names[example["label"]] == source.parent.name
            # Exact: decrypting the record gives the source image back, bit for bit.
            assert np.array_equal(scheme.decrypt(example["image"]), read_image(source))
            seen.add(example_id)
    assert len(seen) == 200
    # keras-lie's manifest: the scheme, the key's fingerprint, counts and every shard's checksum.
    manifest = json.loads((out / "keras-lie-dataset.json").read_text())
    assert manifest["layout"] == "tfds" and manifest["key_fingerprint"] == key.fingerprint
    assert manifest["counts"]["train"] == {"a": 25, "b": 25, "c": 25, "d": 25}
    for shard in manifest["shards"]:
        assert hashlib.sha256((out / shard["file"]).read_bytes()).hexdigest() == shard["sha256"]
    assert sum(shard["examples"] for shard in manifest["shards"]) == 200
    assert "key_material" not in (out / "keras-lie-dataset.json").read_text()


def test_a_corrupt_image_is_reported_by_name_and_the_rest_written(tree, key_file, tmp_path, monkeypatch, rng):
    import keras_lie.shards.beam_pipeline as pipeline

    key, key_path = key_file
    (tree / "train" / "a" / "broken.png").write_bytes(b"not a png")
    write_png(tree / "train" / "b" / "wide.png", rng.integers(0, 256, (8, 24, 3), dtype=np.uint8))  # one more
    monkeypatch.setattr(pipeline, "_CHUNK_MAX_IMAGES", 7)  # each shard written as several workers' pieces
    report = encrypt_to_tfds(tree, tmp_path / "out", key_path, num_shards=2, pipeline_args=IN_PROCESS)
    assert [name for name, _ in report.failures] == ["train/a/broken.png"]
    assert "not a readable" in report.failures[0][1]
    manifest = json.loads((tmp_path / "out" / "keras-lie-dataset.json").read_text())
    assert manifest["failures"][0]["file"] == "train/a/broken.png"
    builder = tfds.builder_from_directory(str(tmp_path / "out"))
    assert builder.info.splits["train"].num_examples == 101
    assert not list((tmp_path / "out").glob(".*"))  # no piece, no temporary left
    # The pieces joined in order: each shard's examples sorted by id, all decrypting exactly (any size).
    scheme = get_scheme(key)
    for shard in json.loads((tmp_path / "out" / "keras-lie-dataset.json").read_text())["shards"]:
        ids = [example["id"].decode() for example in _read_shard(builder, tmp_path / "out" / shard["file"])]
        assert ids == sorted(ids) and len(ids) == shard["examples"]
    wide = next(example for example in tfds.as_numpy(builder.as_dataset(split="train"))
                if example["id"] == b"train/b/wide.png")
    assert np.array_equal(scheme.decrypt(wide["image"]), read_image(tree / "train" / "b" / "wide.png"))


def _read_shard(builder, path):
    import tensorflow as tf

    return tfds.as_numpy(tf.data.TFRecordDataset(str(path)).map(builder.info.features.deserialize_example))


def test_a_failed_pipeline_leaves_no_dataset_and_a_rerun_finishes(tree, key_file, tmp_path, monkeypatch):
    import keras_lie.shards.beam_pipeline as pipeline

    _, key_path = key_file

    def crash(*args):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(pipeline, "_serialize", crash)
    with pytest.raises(Exception, match="worker lost"):
        encrypt_to_tfds(tree, tmp_path / "out", key_path, num_shards=2, pipeline_args=IN_PROCESS)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.json", "tree"]
    # A killed run (no chance to clean up) leaves its hidden staging folder: the next run removes it.
    stale = tmp_path / ".out.0123456789ab.partial"
    stale.mkdir()
    (stale / "keras_lie_encrypted-train.tfrecord-00000-of-00002").write_bytes(b"half")
    report = encrypt_to_tfds(tree, tmp_path / "out", key_path, num_shards=2, pipeline_args=IN_PROCESS)
    assert report.ok and not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.json", "out", "tree"]
    # An existing dataset is never replaced.
    with pytest.raises(Exception, match="already exists"):
        encrypt_to_tfds(tree, tmp_path / "out", key_path, pipeline_args=IN_PROCESS)


def test_workers_read_disjoint_shards_and_training_reads_the_dataset(tree, key_file, tmp_path, capfd):
    from keras_lie import cli
    from keras_lie.data import load_source

    _, key_path = key_file
    assert cli.main(["encrypt", "--format", "tfds", "--num-shards", "4", "--key", str(key_path), str(tree),
                     str(tmp_path / "out"), "--runner", "DirectRunner"]) == 0
    out, err = capfd.readouterr()
    assert "Encrypted 200 image(s) into 8 shard(s)" in out and not err.strip()  # Beam's workers' logs are hidden
    source = load_source(tmp_path / "out", "train", encrypted=True)
    assert source.size == 100 and source.manifest.layout == "tfds"
    parts = [source.shard(2, index) for index in range(2)]
    digests = [{hashlib.sha256(image.numpy().tobytes()).hexdigest() for image, _ in part.dataset} for part in parts]
    assert len(digests[0]) == parts[0].size == parts[1].size == len(digests[1]) and not digests[0] & digests[1]
    # The trainer reads the dataset directly (no key: the manifest gives the scheme).
    assert cli.main(["train", "--encrypted", "--data", str(tmp_path / "out"), "--preset", "quick", "--epochs", "1",
                     "--batch-size", "16", "--depth", "8", "--alpha", "4", "-o", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "run" / "results.json").read_text())["test_accuracy"] >= 0


def test_an_encrypted_source_is_refused(tree, key_file, tmp_path):
    from keras_lie.data.image_files import transform_path
    from keras_lie.errors import ImageFileError

    key, key_path = key_file
    encrypted = tmp_path / "enc"
    transform_path(tree, encrypted, key)
    with pytest.raises(ImageFileError, match="already encrypted"):
        encrypt_to_tfds(encrypted, tmp_path / "again", key_path, pipeline_args=IN_PROCESS)
    assert not (tmp_path / "again").exists()



def test_an_empty_first_shard_is_read_past(tree, key_file, tmp_path):
    from keras_lie.data import load_source

    _, key_path = key_file
    encrypt_to_tfds(tree, tmp_path / "out", key_path, num_shards=3, pipeline_args=IN_PROCESS)
    first = tmp_path / "out" / "keras_lie_encrypted-train.tfrecord-00000-of-00003"
    first.write_bytes(b"")  # as when every image of shard 0 failed
    source = load_source(tmp_path / "out", "train", encrypted=True)
    assert source.dataset.element_spec[0].shape == (16, 16, 3)
    assert sum(1 for _ in source.dataset) > 0


@pytest.fixture
def bucket():
    """A fresh stand-in bucket (`ram://`: TensorFlow's in-memory file system, reached by Beam, TF and TFDS)."""
    import uuid

    import object_store
    import tensorflow as tf

    object_store.let_tfds_read_ram()
    url = f"ram://bucket-{uuid.uuid4().hex[:8]}"
    yield url
    if tf.io.gfile.exists(url):
        tf.io.gfile.rmtree(url)


def _objects(url):
    from keras_lie.shards import storage

    return storage.list_files(url)


def test_source_key_and_dataset_on_an_object_store(tree, key_file, bucket):
    import tensorflow as tf
    from object_store import upload

    from keras_lie.data import load_source

    key, key_path = key_file
    upload(tree, f"{bucket}/photos")
    tf.io.gfile.GFile(f"{bucket}/keys/key.json", "wb").write(key_path.read_bytes())
    report = encrypt_to_tfds(f"{bucket}/photos", f"{bucket}/encrypted", f"{bucket}/keys/key.json", num_shards=2)
    assert report.ok and report.output == f"{bucket}/encrypted"
    written = _objects(f"{bucket}/encrypted")
    # Shards, TFDS's metadata and the manifest; no pieces, no marker, nothing else.
    assert sorted(name for name in written if ".tfrecord-" not in name) == [
        "dataset_info.json", "features.json", "keras-lie-dataset.json"]
    assert len(written) == 3 + 4
    # The trainer reads it from the store, and every image decrypts to its source, bit for bit.
    source = load_source(f"{bucket}/encrypted", "test", encrypted=True)
    assert source.size == 100 and source.manifest.key_fingerprint == key.fingerprint
    scheme = get_scheme(key)
    originals = {hashlib.sha256(read_image(path).tobytes()).hexdigest() for path in (tree / "test").rglob("*.png")}
    decrypted = {hashlib.sha256(scheme.decrypt(image.numpy()).tobytes()).hexdigest() for image, _ in source.dataset}
    assert decrypted == originals
    # TFDS alone reads it as it reads gs://.
    assert tfds.builder_from_directory(f"{bucket}/encrypted").info.splits["train"].num_examples == 100


def test_an_object_store_dataset_looks_complete_only_when_it_is(tree, key_file, bucket, monkeypatch):
    import tensorflow as tf

    import keras_lie.shards.beam_pipeline as pipeline
    from keras_lie.data import load_source
    from keras_lie.errors import DatasetUnavailableError, KerasLieError

    _, key_path = key_file
    out = f"{bucket}/encrypted"
    # A killed run: its marker and a half shard, no dataset_info.json. Nothing loads it...
    tf.io.gfile.makedirs(out)
    tf.io.gfile.GFile(f"{out}/.keras-lie-incomplete", "wb").write(b"")
    tf.io.gfile.GFile(f"{out}/keras_lie_encrypted-train.tfrecord-00000-of-00002", "wb").write(b"half")
    with pytest.raises(DatasetUnavailableError, match="no dataset_info.json"):
        load_source(out, "train", encrypted=True)
    # ... a failing run removes what it wrote (here: the killed run's objects too) ...
    monkeypatch.setattr(pipeline, "_serialize", lambda *args: (_ for _ in ()).throw(RuntimeError("worker lost")))
    with pytest.raises(Exception, match="worker lost"):
        encrypt_to_tfds(tree, out, key_path, num_shards=2, pipeline_args=IN_PROCESS)
    monkeypatch.undo()
    assert _objects(out) == []
    # ... and a rerun does the work.
    assert encrypt_to_tfds(tree, out, key_path, num_shards=2, pipeline_args=IN_PROCESS).ok
    assert ".keras-lie-incomplete" not in _objects(out)
    # A dataset, or objects keras-lie did not write, are never replaced.
    before = _objects(out)
    with pytest.raises(KerasLieError, match="already holds a dataset"):
        encrypt_to_tfds(tree, out, key_path, pipeline_args=IN_PROCESS)
    tf.io.gfile.GFile(f"{bucket}/other/notes.txt", "wb").write(b"mine")
    with pytest.raises(KerasLieError, match="already holds 1 objects"):
        encrypt_to_tfds(tree, f"{bucket}/other", key_path, pipeline_args=IN_PROCESS)
    assert _objects(out) == before and _objects(f"{bucket}/other") == ["notes.txt"]


def test_png_folders_and_plain_key_loading_refuse_urls_with_advice(tree, key_file):
    from keras_lie.data.image_files import transform_path
    from keras_lie.errors import ImageFileError, KeyFileError
    from keras_lie.keys import load_key

    key, _ = key_file
    with pytest.raises(ImageFileError, match="--format tfds"):
        transform_path(tree, "gs://bucket/out", key)
    with pytest.raises(KeyFileError, match="Copy the key to a local file"):
        load_key("gs://bucket/key.json")


def test_an_encrypted_source_on_an_object_store_is_refused(tree, key_file, tmp_path, bucket):
    from object_store import upload

    from keras_lie.data.image_files import transform_path
    from keras_lie.errors import ImageFileError

    key, key_path = key_file
    transform_path(tree, tmp_path / "enc", key)
    upload(tmp_path / "enc", f"{bucket}/enc")
    with pytest.raises(ImageFileError, match="already encrypted"):
        encrypt_to_tfds(f"{bucket}/enc", f"{bucket}/again", key_path, pipeline_args=IN_PROCESS)
    assert _objects(f"{bucket}/again") == []
