"""Known plaintext: a few plain/encrypted pairs give the key (one key for every block) or a decryption map (ELE, EtC)."""

import numpy as np
import pytest

import keras_lie
from keras_lie.keys import generate_key
from keras_lie.security import blocks_needed_per_image, pairs_needed, recover_key
from keras_lie.security.known_plaintext import known_plaintext_curve, recover_map_known_plaintext

from conftest import random_images
from synthetic_images import structured_images


@pytest.mark.parametrize("scheme", ["learnable", "block_shuffle"])
@pytest.mark.parametrize("block_size", [2, 4])
def test_known_plaintext_recovers_the_key(scheme, block_size):
    x = structured_images(3)
    key = generate_key(scheme, block_size=block_size, seed=5)
    enc = keras_lie.encrypt(x, key)
    result = recover_key(x[:2], enc[:2], scheme, block_size)
    assert result.complete and result.key == key
    other = structured_images(2, seed=9)
    assert np.array_equal(keras_lie.decrypt(keras_lie.encrypt(other, key), result.key), other)
    found = pairs_needed(x, enc, scheme, block_size)
    assert found["pairs"] == 1 and found["key"] == key and found["blocks"] >= 1


def test_known_plaintext_with_too_little_data_is_incomplete():
    x = np.zeros((1, 4, 4, 3), np.uint8)  # one constant block: every source matches
    key = generate_key("block_shuffle", block_size=4, seed=1)
    result = recover_key(x, keras_lie.encrypt(x, key), "block_shuffle", 4)
    assert not result.complete and result.resolved == 0


def test_known_plaintext_figures_per_image():
    x = structured_images(6)
    key = generate_key("learnable", block_size=4)
    found = blocks_needed_per_image(x, keras_lie.encrypt(x, key), "learnable", 4)
    assert found["images"] == 6 and len(found["per_image"]) == 6
    for blocks, image in zip(found["per_image"], x, strict=True):
        if blocks is not None:  # the prefix found is the smallest that works
            enc = keras_lie.encrypt(image[None], key)
            assert recover_key(image[None], enc, "learnable", 4, max_blocks=blocks).key == key
            if blocks > 1:
                assert not recover_key(image[None], enc, "learnable", 4, max_blocks=blocks - 1).complete
    flat = np.zeros((1, 8, 8, 3), np.uint8)
    assert blocks_needed_per_image(flat, keras_lie.encrypt(flat, key), "learnable", 4)["per_image"] == [None]


@pytest.mark.parametrize("scheme", ["ele", "etc"])
def test_known_plaintext_decides_the_map_from_a_few_pairs(scheme, rng):
    key = generate_key(scheme, block_size=4, image_size=(16, 16))
    x = random_images(rng, (12, 16, 16, 3))
    encrypted = keras_lie.encrypt(x, key)
    one = recover_map_known_plaintext(x[:1], encrypted[:1], scheme, 4)
    assert not one.complete  # one random pair leaves nibbles (ELE) or equal bytes undecided
    found = recover_map_known_plaintext(x[:6], encrypted[:6], scheme, 4)
    assert found.complete
    np.testing.assert_array_equal(found.decrypt(encrypted[6:]), x[6:])
    curve = known_plaintext_curve(x, encrypted, scheme, 4, counts=(1, 6))
    assert [row["decrypts_other_images_exactly"] for row in curve] == [False, True]
