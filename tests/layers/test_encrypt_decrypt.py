import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_lie.errors import KeyMismatchError
from keras_lie.keys import LearnableKey, generate_key
from keras_lie.layers import Decrypt, Encrypt
from keras_lie.schemes import get_scheme

from conftest import random_images


@pytest.fixture
def key_path(tmp_path):
    return LearnableKey.generate(block_size=4, channels=3, seed=11).save(tmp_path / "key.json")


def test_layers_round_trip_and_match_the_scheme(key_path, rng):
    x = random_images(rng, (4, 16, 16, 3))
    encrypted = Encrypt(key_path)(x)
    assert encrypted.dtype == tf.uint8
    assert np.array_equal(encrypted.numpy(), get_scheme(key_path).encrypt(x))
    assert np.array_equal(Decrypt(key_path)(encrypted).numpy(), x)
    floats = Encrypt(key_path)(x.astype(np.float64))
    assert floats.dtype == tf.float64  # the layer keeps the caller's dtype


def test_layer_has_no_weights(key_path):
    layer = Encrypt(key_path)
    assert layer.weights == [] and not layer.trainable


def test_layer_in_tf_data_map(key_path, rng):
    x = random_images(rng, (8, 16, 16, 3))
    labels = np.arange(8)
    layer = Encrypt(key_path)
    dataset = tf.data.Dataset.from_tensor_slices((x, labels)).batch(4).map(lambda a, b: (layer(a), b))
    images = np.concatenate([batch.numpy() for batch, _ in dataset])
    assert np.array_equal(images, get_scheme(key_path).encrypt(x))
    single = tf.data.Dataset.from_tensor_slices(x).map(layer)
    assert np.array_equal(np.stack(list(single.as_numpy_iterator())), images)


def _model(key_path):
    inputs = keras.Input((16, 16, 3), dtype="uint8")
    encrypted = Encrypt(key_path)(inputs)
    features = keras.layers.Rescaling(1 / 255)(keras.ops.cast(encrypted, "float32"))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(features))
    return keras.Model(inputs, outputs)


def test_first_layer_of_a_model_and_keras_save_load_round_trip(key_path, tmp_path, rng):
    model = _model(key_path)
    x = random_images(rng, (3, 16, 16, 3))
    expected = model.predict(x, verbose=0)
    model_path = tmp_path / "model.keras"
    model.save(model_path)
    with zipfile.ZipFile(model_path) as archive:
        config = archive.read("config.json").decode()
    key = LearnableKey.load(key_path)
    assert key.fingerprint in config
    assert json.dumps(key.material()["permutation"])[1:40] not in config  # never the key itself
    restored = keras.models.load_model(model_path)
    np.testing.assert_allclose(restored.predict(x, verbose=0), expected, rtol=1e-6)


def test_loading_refuses_a_replaced_key_file(key_path, tmp_path):
    model_path = tmp_path / "model.keras"
    _model(key_path).save(model_path)
    LearnableKey.generate(seed=12).save(key_path, overwrite=True)
    # Keras re-raises errors from from_config as TypeError, with our message inside.
    with pytest.raises((KeyMismatchError, TypeError), match="has fingerprint .* Point it to the original key"):
        keras.models.load_model(model_path)


def test_get_config_of_an_in_memory_key_holds_only_the_fingerprint():
    key = LearnableKey.generate(seed=1)
    config = Encrypt(key).get_config()
    assert config["key"] is None and config["key_fingerprint"] == key.fingerprint
    assert "permutation" not in str(config)


def test_from_config_round_trip(key_path):
    layer = Decrypt(key_path, padding="replicate", name="dec")
    clone = Decrypt.from_config(layer.get_config())
    assert clone.key == layer.key and clone.padding == "replicate" and clone.name == "dec"


def test_compute_output_shape_with_padding(tmp_path):
    path = generate_key("block_shuffle", block_size=4, seed=1).save(tmp_path / "k.json")
    assert Encrypt(path).compute_output_shape((None, 30, 30, 3)) == (None, 30, 30, 3)
    assert Encrypt(path, padding="replicate").compute_output_shape((None, 30, 30, 3)) == (None, 32, 32, 3)
    assert Encrypt(path, padding="replicate")(np.zeros((1, 30, 30, 3), np.uint8)).shape == (1, 32, 32, 3)
