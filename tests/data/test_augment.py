import numpy as np
import pytest
import tensorflow as tf

from keras_lie.data import block_flip, block_translate, random_block_augment
from keras_lie.keys import generate_key
from keras_lie.schemes import get_scheme

from conftest import random_images


@pytest.mark.parametrize("scheme", ["learnable", "block_shuffle"])
@pytest.mark.parametrize("block_size", [2, 4])
def test_augmentation_commutes_with_block_schemes(scheme, block_size, rng):
    key = generate_key(scheme, block_size=block_size, seed=7)
    enc = get_scheme(key)
    x = random_images(rng, (16, 24, 3))
    for shift in [(-2, 1), (0, 0), (1, -1), (2, 2)]:
        a = block_translate(tf.constant(enc.encrypt(x)), *shift, block_size, 2).numpy()
        b = enc.encrypt(block_translate(tf.constant(x), *shift, block_size, 2).numpy())
        assert np.array_equal(a, b)
    assert np.array_equal(block_flip(tf.constant(enc.encrypt(x)), block_size).numpy(),
                          enc.encrypt(block_flip(tf.constant(x), block_size).numpy()))
    for seed in range(5):
        s = tf.constant([seed, 3], tf.int64)
        a = random_block_augment(tf.constant(enc.encrypt(x)), s, block_size, 2).numpy()
        b = enc.encrypt(random_block_augment(tf.constant(x), s, block_size, 2).numpy())
        assert np.array_equal(a, b)


def test_ordinary_flip_does_not_commute(rng):
    """Why block-aligned augmentation exists: a pixel flip breaks the encryption."""
    enc = get_scheme(generate_key("learnable", seed=1))
    x = random_images(rng, (16, 16, 3))
    assert not np.array_equal(enc.encrypt(x)[:, ::-1], enc.encrypt(x[:, ::-1]))


def test_translate_moves_whole_blocks_and_pads_with_edge_blocks():
    image = np.arange(8 * 8).reshape(8, 8, 1).astype(np.uint8)
    shifted = block_translate(tf.constant(image), 1, 0, 4, 1).numpy()
    assert np.array_equal(shifted[4:], image[:4])
    assert np.array_equal(shifted[:4], image[:4])  # the top edge block row repeated
    flipped = block_flip(tf.constant(image), 4).numpy()
    assert np.array_equal(flipped[:, :4], image[:, 4:]) and np.array_equal(flipped[:, 4:], image[:, :4])


def test_random_augment_is_deterministic_per_seed(rng):
    x = tf.constant(random_images(rng, (16, 16, 3)))
    outs = [random_block_augment(x, tf.constant([s, 0], tf.int64), 4, 1).numpy() for s in range(8)]
    again = [random_block_augment(x, tf.constant([s, 0], tf.int64), 4, 1).numpy() for s in range(8)]
    assert all(np.array_equal(a, b) for a, b in zip(outs, again, strict=True))
    assert len({o.tobytes() for o in outs}) > 1
