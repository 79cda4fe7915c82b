import numpy as np
import pytest

import keras_lie
from keras_lie.keys import generate_key
from keras_lie.security import attack, estimate_nibble_model, key_space_bits, pairs_needed, recover_key
from keras_lie.security.key_leakage import auc, score_nibble_model


def structured_images(n, size=32, seed=0):
    """Smooth images with strong structure (random gradients and blobs), as natural images have."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(n):
        a, b, c = rng.uniform(-1, 1, 3)
        cy, cx, r = rng.uniform(0.2, 0.8, 3)
        base = 128 + 80 * (a * yy + b * xx) + 60 * c * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (0.05 + r / 10))
        channels = [base + rng.normal(0, 3, base.shape) + 20 * k for k in (-1, 0, 1)]
        images.append(np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8))
    return np.stack(images)


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


def test_ciphertext_only_attack_beats_a_random_guess_on_structured_images():
    x = structured_images(40)
    key = generate_key("learnable", block_size=4, seed=3)
    enc = keras_lie.encrypt(x, key)
    outcome = attack(enc, x, "learnable", 4, attack_images=20)
    assert outcome["ssim_reconstruction"] > outcome["ssim_flat_baseline"] + 0.1
    assert outcome["ssim_reconstruction"] > outcome["ssim_encrypted_baseline"] + 0.1
    structure = score_nibble_model(estimate_nibble_model(enc[:20], 4), key)
    assert structure["upper_nibble_accuracy"] > 0.9 and structure["parity_accuracy"] > 0.9


def test_the_cat_map_falls_to_the_attack_on_its_linear_maps():
    x = structured_images(20)
    key = generate_key("cat_map")
    outcome = attack(keras_lie.encrypt(x, key), x, "cat_map", None)
    # Every grey image comes back exactly (the channel rotation keeps each pixel's grey level).
    assert outcome["exact"] and outcome["ssim_reconstruction"] > 0.999
    assert outcome["ssim_reconstruction"] > outcome["ssim_true_block_means"] + 0.1


def test_auc_and_key_space():
    assert auc(np.array([0.1, 0.2, 0.9, 0.8]), np.array([False, False, True, True])) == 1.0
    assert auc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([False, False, True, True])) == 0.0
    assert key_space_bits("block_shuffle", 2, 1)["nominal_bits"] == pytest.approx(np.log2(24))
    assert key_space_bits("learnable", 4, 3)["effective_bits"] > 400
    cat = key_space_bits("cat_map", image_side=32)
    assert cat["nominal_bits"] == 256 and cat["effective_bits"] < 256


def test_brute_force_cost_for_huge_key_spaces():
    from keras_lie.security import brute_force_log10_years

    bits = key_space_bits("learnable", 8, 3)["effective_bits"]  # thousands of bits: 2**bits overflows
    assert brute_force_log10_years(bits, 1e6) > 700
    assert brute_force_log10_years(0, 1e6) == float("-inf")
