"""The key-equivariant stem: per-feature input normalisation before the block embedding."""

import functools

import keras
import numpy as np
import pytest

import keras_lie
from keras_lie.keys import generate_key
from keras_lie.models import build_classifier, convert_key, convmixer, find_block_stem, pyramidnet

from conftest import assert_one_step_is_equivariant

tiny_pyramid = functools.partial(pyramidnet, depth=8, alpha=8, classifier_activation=None)
tiny_mixer = functools.partial(convmixer, dim=16, depth=2, kernel_size=3, classifier_activation=None)
EQUIVARIANT = {"input_normalization": True}
GRID = {"input_normalization": True, "upsample": False, "filters": 16, "nin_depth": 0}


def randomize_stem(model, seed=0):
    """Non-trivial normalisation statistics and parameters, so a wrong conversion shows."""
    rng = np.random.default_rng(seed)
    stem = find_block_stem(model)
    gamma, beta, mean, variance = stem.input_norm.get_weights()
    stem.input_norm.set_weights([rng.normal(1, 0.5, gamma.shape), rng.normal(0, 1, beta.shape),
                                 rng.uniform(0, 1, mean.shape), rng.uniform(0.05, 0.5, variance.shape)])
    kernel, bias = stem.block_conv.get_weights()
    stem.block_conv.set_weights([kernel * 5, rng.normal(0, 1, bias.shape)])
    return model


@pytest.mark.parametrize("backbone, stem", [(tiny_pyramid, EQUIVARIANT), (tiny_mixer, GRID)])
@pytest.mark.parametrize("scheme, mode", [("learnable", "nibbles"), ("block_shuffle", "bytes")])
def test_convert_key_through_the_input_normalisation(backbone, stem, scheme, mode):
    old, new = generate_key(scheme, seed=1), generate_key(scheme, seed=2)
    model = randomize_stem(build_classifier(old, backbone=backbone, stem=stem, stem_input_mode=mode,
                                            input_shape=(16, 16, 3)))
    x = np.random.default_rng(3).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    before = model.predict(keras_lie.encrypt(x, old).astype("float32"), verbose=0)
    after = convert_key(model, old, new).predict(keras_lie.encrypt(x, new).astype("float32"), verbose=0)
    assert np.abs(before).max() > 0.1 and np.abs(after - before).max() < 1e-4


def test_grid_stem_shape_and_config():
    model = build_classifier("plain", backbone=tiny_mixer, stem=GRID, stem_input_mode="nibbles", input_shape=(16, 16, 3))
    stem = find_block_stem(model)
    assert stem.compute_output_shape((None, 16, 16, 3)) == (None, 4, 4, 16)
    assert stem.input_norm.gamma.shape == (4 * 4 * 6,)
    assert keras_lie.layers.BlockStem.from_config(stem.get_config()).get_config() == stem.get_config()


@pytest.mark.parametrize("backbone, stem", [(tiny_pyramid, EQUIVARIANT), (tiny_mixer, GRID)])
def test_one_training_step_on_encrypted_equals_one_on_plain(backbone, stem):
    """Same seed, converted initial weights: same loss, and weights that stay converted."""
    key = generate_key("learnable", seed=5)
    keras.utils.set_random_seed(0)
    plain_model = build_classifier("plain", backbone=backbone, stem=stem, stem_input_mode="nibbles",
                                   input_shape=(16, 16, 3), num_classes=3)
    assert_one_step_is_equivariant(plain_model, key, (16, 16, 3), 3)


def test_keras_round_trip_of_the_convmixer_classifier(tmp_path):
    key = generate_key("learnable", seed=4)
    model = randomize_stem(build_classifier(key, backbone=tiny_mixer, stem=GRID, stem_input_mode="nibbles",
                                            input_shape=(16, 16, 3)))
    x = np.random.default_rng(2).integers(0, 256, (3, 16, 16, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_initialize_stem_from_data_finds_upper_nibbles_without_the_key():
    from keras_lie.models import initialize_stem_from_data
    from keras_lie.security.key_leakage import true_nibble_structure

    key = generate_key("learnable", block_size=4, seed=8)
    yy, xx = np.mgrid[0:32, 0:32]
    rng = np.random.default_rng(0)
    images = np.stack([np.clip(np.stack([(yy * a + xx * b) % 256 + rng.normal(0, 3, (32, 32))] * 3, -1), 0, 255)
                       for a, b in rng.uniform(1, 7, (16, 2))]).astype(np.uint8)
    model = build_classifier(key, backbone=tiny_mixer, stem=GRID, stem_input_mode="nibbles", input_shape=(32, 32, 3))
    upper = initialize_stem_from_data(model, keras_lie.encrypt(images, key))
    assert np.mean(upper == true_nibble_structure(key)[0]) > 0.9
    gamma = find_block_stem(model).input_norm.get_weights()[0]
    assert sorted(set(np.round(gamma, 4))) == [round(1 / 16, 4), 1.0]
    with pytest.raises(ValueError, match="input_normalization=True"):
        initialize_stem_from_data(build_classifier(key, backbone=tiny_pyramid, input_shape=(16, 16, 3)), images)
