import numpy as np
import pytest

from keras_lie.data import load_source, make_pipeline, transform_path
from keras_lie.keys import generate_key
from keras_lie.schemes import get_scheme


def test_pipeline_encrypts_batches_and_is_deterministic(image_zip):
    source = load_source(image_zip, "train")
    key = generate_key("learnable", block_size=4, seed=3)
    plain = np.stack([x.numpy() for x, _ in source.dataset])
    test = make_pipeline(source, key, batch_size=5)
    batches = [(x.numpy(), y.numpy()) for x, y in test]
    assert [len(x) for x, _ in batches] == [5, 5, 2]
    images = np.concatenate([x for x, _ in batches])
    assert images.dtype == np.float32
    assert np.array_equal(images.astype(np.uint8), get_scheme(key).encrypt(plain))
    train1 = [x.numpy() for x, _ in make_pipeline(source, key, batch_size=4, training=True, seed=9)]
    train2 = [x.numpy() for x, _ in make_pipeline(source, key, batch_size=4, training=True, seed=9)]
    assert all(np.array_equal(a, b) for a, b in zip(train1, train2, strict=True))
    train3 = [x.numpy() for x, _ in make_pipeline(source, key, batch_size=4, training=True, seed=10)]
    assert not all(np.array_equal(a, b) for a, b in zip(train1, train3, strict=True))


def test_encrypted_folder_is_not_encrypted_twice(image_tree, tmp_path):

    key = generate_key("block_shuffle", block_size=4, seed=2)
    transform_path(image_tree / "test", tmp_path / "enc" / "test", key)
    encrypted = load_source(tmp_path / "enc", "test", encrypted=True)
    plain = load_source(image_tree, "test")
    a = np.concatenate([x.numpy() for x, _ in make_pipeline(encrypted, key, batch_size=50)])
    b = np.concatenate([x.numpy() for x, _ in make_pipeline(plain, key, batch_size=50)])
    assert np.array_equal(a, b)


def test_schemes_without_augmentation_refuse_it(image_tree, image_zip, tmp_path):
    source = load_source(image_zip, "train")
    with pytest.raises(ValueError, match="cat map"):
        make_pipeline(source, generate_key("cat_map", seed=1), training=True, augment=True)
    # Nor with ELE or EtC: a block moved to another position meets another position's key.
    for scheme in ("ele", "etc"):
        key = generate_key(scheme, seed=1, image_size=(16, 16))
        with pytest.raises(ValueError, match="augment=False"):
            make_pipeline(source, key, training=True, augment=True)
    # The trainer, without the key: the encrypted folder's manifest says no augmentation applies.
    key = generate_key("ele", seed=1, image_size=(16, 16))
    transform_path(image_tree, tmp_path / "enc", key)
    encrypted = load_source(tmp_path / "enc", "train", encrypted=True)
    with pytest.raises(ValueError, match="extended learnable"):
        make_pipeline(encrypted, None, training=True, augment=True)
    assert next(iter(make_pipeline(encrypted, None, training=True)))[0].shape[0] == 12
    # By default training on cat map images simply does not augment.
    assert next(iter(make_pipeline(source, generate_key("cat_map", seed=1), training=True)))[0].shape[0] == 12
