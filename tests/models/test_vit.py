"""The block-token ViT: exact key conversion for every block-wise scheme, and one-step equivariance."""

import functools

import keras
import numpy as np
import pytest

import keras_lie
from keras_lie.errors import KeyMismatchError
from keras_lie.keys import generate_key
from keras_lie.models import build_classifier, convert_key, from_plain, vit

from conftest import assert_one_step_is_equivariant

SIZE = (16, 16)


def tiny(input_mode, shared=False):
    return functools.partial(vit, block_size=4, input_mode=input_mode, shared_embedding=shared, dim=16, depth=1,
                             heads=2, classifier_activation=None)


def key_for(scheme, seed):
    return generate_key(scheme, block_size=4, seed=seed, image_size=SIZE)


def randomize_norm(model, seed=0):
    """Non-trivial normalisation statistics, so that a wrong conversion shows."""
    rng = np.random.default_rng(seed)
    for layer in keras_lie.models.walk_layers(model):
        if layer.name == "block_norm":
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.normal(1, 0.5, gamma.shape), rng.normal(0, 1, beta.shape),
                               rng.uniform(0, 1, mean.shape), rng.uniform(0.05, 0.5, variance.shape)])
    return model


def outputs(model, key, x):
    images = x if key is None else keras_lie.encrypt(x, key)
    return model.predict(images.astype("float32"), verbose=0)


CONVERSIONS = [
    ("plain", "ele", "nibbles", False), ("ele", "ele", "nibbles", False), ("plain", "etc", "bytes", False),
    ("etc", "etc", "nibbles", False), ("learnable", "ele", "nibbles", False), ("plain", "learnable", "nibbles", True),
    ("block_shuffle", "block_shuffle", "bytes", True), ("plain", "block_shuffle", "bytes", False),
]


@pytest.mark.parametrize("old_scheme, new_scheme, mode, shared", CONVERSIONS)
def test_convert_key_is_exact(old_scheme, new_scheme, mode, shared):
    old, new = key_for(old_scheme, 1), key_for(new_scheme, 2)
    model = randomize_norm(build_classifier(old, backbone=tiny(mode, shared), stem=False, input_shape=(*SIZE, 3),
                                            num_classes=4))
    x = np.random.default_rng(3).integers(0, 256, (5, *SIZE, 3), dtype=np.uint8)
    before = outputs(model, None if old_scheme == "plain" else old, x)
    converted = convert_key(model, None if old_scheme == "plain" else old, new)
    after = outputs(converted, new, x)
    assert np.abs(before).max() > 0.05 and np.abs(after - before).max() < 1e-4
    assert keras_lie.models.encryption_info(converted).key_fingerprint == new.fingerprint


def test_conversions_that_cannot_be_exact_are_refused():
    model = build_classifier("plain", backbone=tiny("bytes"), stem=False, input_shape=(*SIZE, 3))
    with pytest.raises(KeyMismatchError, match="input_mode='nibbles'"):
        from_plain(model, key_for("ele", 1))
    shared = build_classifier("plain", backbone=tiny("nibbles", shared=True), stem=False, input_shape=(*SIZE, 3))
    with pytest.raises(KeyMismatchError, match="shared_embedding=False"):
        from_plain(shared, key_for("ele", 1))
    other_size = generate_key("ele", block_size=4, image_size=(16, 24))
    with pytest.raises(KeyMismatchError, match="tokens"):
        from_plain(build_classifier("plain", backbone=tiny("nibbles"), stem=False, input_shape=(*SIZE, 3)), other_size)
    with pytest.raises(KeyMismatchError, match="block-token ViT"):
        from_plain(build_classifier("plain", input_shape=(*SIZE, 3), backbone=functools.partial(
            keras_lie.models.convmixer, dim=8, depth=1)), key_for("etc", 1))


@pytest.mark.parametrize("scheme, mode", [("ele", "nibbles"), ("etc", "bytes")])
def test_one_training_step_on_encrypted_equals_one_on_plain(scheme, mode):
    """Same seed, converted initial weights: the same loss, and weights that stay converted."""
    key = key_for(scheme, 5)
    keras.utils.set_random_seed(0)
    plain_model = build_classifier("plain", backbone=tiny(mode), stem=False, input_shape=(*SIZE, 3), num_classes=3)
    assert_one_step_is_equivariant(plain_model, key, (*SIZE, 3), 3)


def test_vit_shapes_saving_and_its_initial_weights_are_sign_symmetric(tmp_path):
    model = build_classifier(key_for("ele", 3), backbone=tiny("nibbles"), stem=False, input_shape=(*SIZE, 3))
    kernel = model.get_layer("vit_positionwise_nibbles_16x1").get_layer("block_embedding").kernel.numpy()
    assert kernel.shape == (16, 96, 16) and abs(float(np.mean(np.sign(kernel)))) < 0.05
    x = np.random.default_rng(2).integers(0, 256, (3, *SIZE, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shared", [False, True])
def test_data_initialisation_finds_the_upper_nibbles_of_every_position_without_the_key(shared):
    from keras_lie.models import initialize_stem_from_data

    yy, xx = np.mgrid[0:16, 0:16]
    rng = np.random.default_rng(0)
    images = np.stack([np.clip(np.stack([(yy * a + xx * b) % 256 + rng.normal(0, 3, (16, 16))] * 3, -1), 0, 255)
                       for a, b in rng.uniform(1, 7, (256, 2))]).astype(np.uint8)
    key = key_for("ele", 7) if not shared else keras_lie.generate_key("learnable", block_size=4, seed=7)
    model = build_classifier(key, backbone=tiny("nibbles", shared), stem=False, input_shape=(*SIZE, 3))
    upper = initialize_stem_from_data(model, keras_lie.encrypt(images, key))
    scheme = keras_lie.get_scheme(key)
    source = scheme.nibble_sources("encrypt")[0] if not shared else scheme.nibble_source("encrypt")[0]
    assert np.mean(upper == (source >= 48)) > 0.9  # d = 4 * 4 * 3
    gamma = model.get_layer("vit_" + ("shared" if shared else "positionwise") + "_nibbles_16x1").get_layer(
        "block_norm").get_weights()[0]
    assert sorted(set(np.round(gamma, 4))) == [round(1 / 16, 4), 1.0]
