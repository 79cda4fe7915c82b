import numpy as np
import pytest

from keras_lie.data import DatasetUnavailableError, load_source
from keras_lie.data.image_files import read_image


def test_folder_and_zip_give_the_same_images(image_tree, image_zip):
    folder = load_source(image_tree, "train")
    archive = load_source(image_zip, "train")
    assert folder.class_names == archive.class_names == ["cat", "dog", "frog"]
    assert folder.size == archive.size == 12
    a = [(x.numpy(), int(y)) for x, y in folder.dataset]
    b = [(x.numpy(), int(y)) for x, y in archive.dataset]
    assert all(np.array_equal(x1, x2) and y1 == y2 for (x1, y1), (x2, y2) in zip(a, b, strict=True))
    assert np.array_equal(a[0][0], read_image(image_tree / "train" / "cat" / "0000.png"))
    assert folder.dataset.element_spec[0].shape == (16, 16, 3)


def test_balanced_seeded_subset(image_zip):
    subset = load_source(image_zip, "train", limit=6, seed=1)
    labels = [int(y) for _, y in subset.dataset]
    assert subset.size == 6 and sorted(labels) == [0, 0, 1, 1, 2, 2]
    again = load_source(image_zip, "train", limit=6, seed=1)
    assert [x.numpy().tobytes() for x, _ in again.dataset] == [x.numpy().tobytes() for x, _ in subset.dataset]


def test_missing_split_path_and_offline_tfds(image_zip, tmp_path, monkeypatch):
    with pytest.raises(DatasetUnavailableError, match="validation/<class>"):
        load_source(image_zip, "validation")
    with pytest.raises(DatasetUnavailableError, match="does not exist"):
        load_source(tmp_path / "nothing")
    import tensorflow_datasets as tfds

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(DatasetUnavailableError, match="Offline, use a local copy.*cifar10-jpeg.zip"):
        load_source("cifar10")


def test_mixed_image_sizes_fail_clearly(image_tree):
    import tensorflow as tf

    odd = np.zeros((8, 8, 3), np.uint8)
    (image_tree / "train" / "dog" / "9999.png").write_bytes(tf.io.encode_png(odd).numpy())
    source = load_source(image_tree, "train")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"size of the first, \(16, 16, 3\); resize"):
        for _ in source.dataset:
            pass


def test_shared_cifar_zip(cifar_zip):
    source = load_source(cifar_zip, "test", limit=20, seed=0)
    assert source.class_names[:3] == ["airplane", "automobile", "bird"]
    images = [x for x, _ in source.dataset]
    assert len(images) == 20 and images[0].shape == (32, 32, 3)


def test_a_missing_tfds_dependency_is_named_not_blamed_on_being_offline(monkeypatch):
    import tensorflow_datasets as tfds

    from keras_lie.data import DatasetUnavailableError

    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'importlib_resources'", name="importlib_resources")

    monkeypatch.setattr(tfds, "load", missing)
    with pytest.raises(DatasetUnavailableError, match="pip install importlib_resources"):
        load_source("cifar10", "test")


def test_a_folder_without_splits_is_never_scored_on_its_training_images(image_tree, image_zip):
    from keras_lie.experiments import prepare

    single = image_tree / "train"  # ROOT/<class>/<image>, 12 images
    with pytest.raises(DatasetUnavailableError, match="no test split.*--holdout 0.1"):
        prepare("quick", {"data": str(single)}, None)
    settings, _, train, test = prepare("quick", {"data": str(single), "holdout": 0.25}, None)
    assert settings.holdout == 0.25 and (train.size, test.size) == (9, 3)
    assert not set(train.files) & set(test.files) and len(set(train.files) | set(test.files)) == 12
    assert train.class_names == test.class_names == ["cat", "dog", "frog"]
    # The partition depends on the file names only: another seed or limit draws from the same part.
    again = load_source(single, "test", holdout=0.25, seed=5, limit=2)
    assert set(again.files) <= set(test.files)
    for source in (image_tree, image_zip):  # sources with their own splits take no holdout
        with pytest.raises(DatasetUnavailableError, match="has its own train and test splits"):
            load_source(source, "test", holdout=0.1)
    with pytest.raises(DatasetUnavailableError, match="between 0 and 1"):
        load_source(single, "test", holdout=1.5)
