import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_lie.layers import BlockStem, split_nibbles


def test_split_nibbles_order_and_values():
    x = np.array([[[[0x3A, 0xF0]]]], np.uint8)
    out = np.asarray(split_nibbles(x))
    assert out.shape == (1, 1, 1, 4)
    assert out.tolist() == [[[[0xA, 0x0, 0x3, 0xF]]]]  # lower of each channel, then upper


@pytest.mark.parametrize("mode", ["bytes", "nibbles"])
def test_shapes_and_kernel(mode):
    stem = BlockStem(block_size=4, filters=8, nin_depth=2, output_channels=5, input_mode=mode)
    y = stem(np.zeros((2, 16, 12, 3), "float32"))
    assert y.shape == (2, 16, 12, 5)
    assert stem.compute_output_shape((None, 16, 12, 3)) == (None, 16, 12, 5)
    assert stem.block_conv.kernel.shape == (4, 4, 6 if mode == "nibbles" else 3, 8)
    assert len(stem.nin_convs) == 2


def test_block_locality():
    """Output block (i, j) depends only on input block (i, j)."""
    # Linear, so that no unit is dead at initialisation and every changed input shows.
    stem = BlockStem(block_size=4, filters=4, nin_depth=1, output_channels=2, normalization=None, activation="linear")
    x = np.random.default_rng(0).integers(0, 256, (1, 16, 16, 3)).astype("float32")
    base = np.asarray(stem(x))
    x2 = x.copy()
    x2[0, 4:8, 8:12] = 255 - x2[0, 4:8, 8:12]
    changed = np.abs(np.asarray(stem(x2)) - base).sum(axis=(0, 3)) > 0
    expected = np.zeros((16, 16), bool)
    expected[4:8, 8:12] = True
    assert np.array_equal(changed, expected)


def test_config_round_trip_and_keras_save(tmp_path):
    stem = BlockStem(block_size=2, filters=6, nin_depth=1, nin_filters=7, output_channels=3,
                     activation="gelu", normalization="layer", input_mode="nibbles")
    clone = BlockStem.from_config(stem.get_config())
    assert clone.get_config() == stem.get_config()
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, stem(inputs))
    x = np.random.default_rng(1).integers(0, 256, (2, 8, 8, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_bad_arguments_and_shapes():
    with pytest.raises(ValueError, match="input_mode"):
        BlockStem(input_mode="bits")
    with pytest.raises(ValueError, match="normalization"):
        BlockStem(normalization="group")
    with pytest.raises(ValueError, match="multiples of 4"):
        BlockStem(block_size=4)(np.zeros((1, 10, 12, 3), "float32"))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        stem = BlockStem(block_size=4, filters=8, output_channels=4, input_mode="nibbles")
        y = stem(np.full((1, 8, 8, 3), 200, "float32"))
        assert y.dtype == policy.removeprefix("mixed_")
        assert stem.block_conv.kernel.dtype == "float32"
    finally:
        keras.config.set_dtype_policy(previous)


def test_xla_matches_eager():
    stem = BlockStem(block_size=4, filters=8, output_channels=4, input_mode="nibbles")
    x = tf.constant(np.random.default_rng(2).integers(0, 256, (2, 8, 8, 3)).astype("float32"))
    eager = stem(x, training=False)
    xla = tf.function(lambda t: stem(t, training=False), jit_compile=True)(x)
    np.testing.assert_allclose(xla.numpy(), eager.numpy(), atol=1e-5)
