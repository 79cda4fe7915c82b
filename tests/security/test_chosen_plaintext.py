"""Chosen plaintext: one designed probe image gives the whole key (one key for every block), a few the map (ELE, EtC)."""

import numpy as np
import pytest

import keras_lie
from keras_lie.errors import KerasLieError
from keras_lie.keys import BlockShuffleKey, generate_key
from keras_lie.security import recover_key_chosen_plaintext
from keras_lie.security.chosen_plaintext import probe_blocks_needed, recover_map_chosen_plaintext

from conftest import random_images


@pytest.mark.parametrize("scheme", ["learnable", "block_shuffle"])
@pytest.mark.parametrize("block_size", [1, 2, 4, 8])
def test_one_chosen_probe_image_recovers_the_whole_key(scheme, block_size):
    key = generate_key(scheme, block_size=block_size)
    oracle = keras_lie.get_scheme(key).encrypt
    result = recover_key_chosen_plaintext(oracle, scheme, block_size)
    assert result.key == key and len(result.probe_images) == 1
    assert result.probe_blocks == probe_blocks_needed(scheme, block_size)
    padded = recover_key_chosen_plaintext(oracle, scheme, block_size, image_shape=(32, 32))
    assert padded.key == key and padded.probe_images.shape == (1, 32, 32, 3)


def test_probe_sizes_match_the_information_bound():
    assert probe_blocks_needed("learnable", 4) == 2  # one block gives 384 bits < log2(96!) = 498
    assert probe_blocks_needed("learnable", 8) == 3
    assert probe_blocks_needed("block_shuffle", 8) == 1


def test_chosen_plaintext_detects_a_wrong_scheme():
    # A byte shuffle that keeps byte 0 in place is itself a learnable key (no nibble is reversed), so
    # the oracle is then learnable encryption and rightly accepted (below); any other shuffle is refused.
    rng = np.random.default_rng()
    moved = rng.permutation(48)
    while moved[0] == 0:
        moved = rng.permutation(48)
    with pytest.raises(KerasLieError, match="not 'learnable'"):
        recover_key_chosen_plaintext(keras_lie.get_scheme(BlockShuffleKey(4, 3, moved)).encrypt, "learnable", 4)
    kept = np.concatenate([[0], 1 + rng.permutation(47)])
    oracle = keras_lie.get_scheme(BlockShuffleKey(4, 3, kept)).encrypt
    recovered = recover_key_chosen_plaintext(oracle, "learnable", 4).key
    x = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    np.testing.assert_array_equal(keras_lie.encrypt(x, recovered), oracle(x))


@pytest.mark.parametrize("scheme, block_size, probes", [("ele", 4, 4), ("ele", 8, 4), ("etc", 4, 2), ("etc", 2, 2)])
def test_chosen_plaintext_gives_a_map_that_decrypts_everything(scheme, block_size, probes, rng):
    key = generate_key(scheme, block_size=block_size, image_size=(16, 24))
    found, probe_images = recover_map_chosen_plaintext(lambda x: keras_lie.encrypt(x, key), scheme, (16, 24, 3))
    assert len(probe_images) == probes and found.complete
    x = random_images(rng, (5, 16, 24, 3))
    np.testing.assert_array_equal(found.decrypt(keras_lie.encrypt(x, key)), x)
