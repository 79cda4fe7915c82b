import functools

import keras
import numpy as np
import pytest

import keras_lie
from keras_lie.errors import KeyMismatchError
from keras_lie.keys import LearnableKey, generate_key
from keras_lie.models import (
    build_classifier,
    check_data,
    check_key,
    encryption_info,
    predict_encrypted,
    predict_plain,
    pyramidnet,
)

tiny = functools.partial(pyramidnet, depth=8, alpha=8)


@pytest.mark.parametrize("scheme", ["plain", "cat_map", "block_shuffle", "learnable"])
def test_one_call_for_every_scheme(scheme):
    key = generate_key(scheme, channels=3, seed=1)
    model = build_classifier(key, backbone=tiny, input_shape=(16, 16, 3), num_classes=4)
    assert model.output_shape == (None, 4)
    info = encryption_info(model)
    assert (info.scheme, info.key_fingerprint) == (scheme, key.fingerprint)
    x = keras_lie.encrypt(np.zeros((2, 16, 16, 3), np.uint8), key).astype("float32")
    np.testing.assert_allclose(np.asarray(model(x)).sum(axis=1), 1, rtol=1e-5)


def test_scheme_name_without_key_and_keras_applications_backbone():
    def mobilenet(input_shape, num_classes):
        return keras.applications.MobileNetV2(
            input_shape=input_shape, weights=None, classes=num_classes, alpha=0.35
        )

    model = build_classifier("plain", backbone=mobilenet, input_shape=(32, 32, 3), num_classes=3)
    assert model.output_shape == (None, 3)
    assert encryption_info(model).key_fingerprint is None
    # The constructor itself, as keras.applications offers it.
    direct = build_classifier("plain", backbone=functools.partial(keras.applications.MobileNetV2, alpha=0.35),
                              input_shape=(32, 32, 3), num_classes=4)
    assert direct.output_shape == (None, 4)


def test_refuses_images_under_another_key(tmp_path):
    key, other = LearnableKey.generate(seed=1), LearnableKey.generate(seed=2)
    model = build_classifier(key, backbone=tiny, input_shape=(16, 16, 3))
    check_key(model, key)
    check_key(model, key.fingerprint)
    with pytest.raises(KeyMismatchError, match="declared as encrypted with key"):
        check_key(model, other)
    with pytest.raises(KeyMismatchError):
        predict_plain(model, np.zeros((1, 16, 16, 3), np.uint8), other.save(tmp_path / "o.json"))
    plain = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    # The data holder's call encrypts: it equals predicting on the encrypted images.
    expected = model.predict(keras_lie.encrypt(plain, key).astype("float32"), verbose=0)
    np.testing.assert_allclose(predict_plain(model, plain, key), expected, rtol=1e-6)
    assert not np.allclose(model.predict(plain.astype("float32"), verbose=0), expected)
    encrypted = keras_lie.encrypt(plain, key)
    np.testing.assert_allclose(predict_encrypted(model, encrypted, key.fingerprint), expected, rtol=1e-6)
    with pytest.raises(KeyMismatchError):
        predict_encrypted(model, encrypted, other.fingerprint)


def test_check_data_refuses_plain_scoring_and_other_encryptions():
    from keras_lie.io.dataset_manifest import DatasetManifest

    key, other = LearnableKey.generate(), LearnableKey.generate()
    model = build_classifier(key, backbone=tiny, input_shape=(16, 16, 3))
    with pytest.raises(KeyMismatchError, match="these images are plain"):
        check_data(model, encrypted=False)
    check_data(model, encrypted=False, key=key)

    def manifest(k):
        return DatasetManifest(k.scheme, k.block_size, k.channels, k.fingerprint, (16, 16), {"": {"a": 1}})

    check_data(model, encrypted=True, manifest=manifest(key))
    with pytest.raises(KeyMismatchError, match="evaluate it on images encrypted with its key"):
        check_data(model, encrypted=True, manifest=manifest(other))
    with pytest.raises(KeyMismatchError, match="no keras-lie-dataset.json"):
        check_data(model, encrypted=True)
    plain_model = build_classifier("plain", backbone=tiny, input_shape=(16, 16, 3))
    check_data(plain_model, encrypted=False)


def test_mismatched_block_size_or_channels():
    key = LearnableKey.generate(block_size=4, seed=1)
    with pytest.raises(KeyMismatchError, match="block size"):
        build_classifier(key, backbone=tiny, input_shape=(16, 16, 3), stem={"block_size": 2})
    with pytest.raises(KeyMismatchError, match="channels"):
        build_classifier(key, backbone=tiny, input_shape=(16, 16, 1))


@pytest.mark.parametrize("mode", ["bytes", "nibbles"])
def test_keras_save_load_round_trip(tmp_path, mode):
    key = generate_key("learnable", seed=3)
    model = build_classifier(key, backbone=tiny, input_shape=(16, 16, 3), stem_input_mode=mode)
    x = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)
    assert encryption_info(restored).key_fingerprint == key.fingerprint


def test_tanaka_and_regularized_pyramidnet_round_trip(tmp_path):
    from keras_lie.models import tanaka_network

    x = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype("float32")
    for model in (tanaka_network(num_classes=3), pyramidnet(depth=8, alpha=4, regularization="shakedrop")):
        model.save(tmp_path / "m.keras")
        restored = keras.models.load_model(tmp_path / "m.keras")
        np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)
