"""Brightness-only attacks: the proposed scheme's nibble structure, and thumbnails of ELE and EtC images."""

import numpy as np
import pytest

import keras_lie
from keras_lie.blocks import block_means
from keras_lie.keys import generate_key
from keras_lie.security import ciphertext_only_attack_position_keyed, estimate_nibble_model
from keras_lie.security.ciphertext_only import score_reconstruction
from keras_lie.security.key_leakage import score_nibble_model
from keras_lie.security.metrics import gray

from synthetic_images import structured_images


def test_the_nibble_structure_comes_from_encrypted_images_alone():
    x = structured_images(20)
    key = generate_key("learnable", block_size=4, seed=3)
    structure = score_nibble_model(estimate_nibble_model(keras_lie.encrypt(x, key), 4), key)
    assert structure["upper_nibble_accuracy"] > 0.9 and structure["parity_accuracy"] > 0.9


@pytest.mark.parametrize("scheme", ["ele", "etc"])
def test_images_held_give_thumbnails_of_every_image(scheme):
    x = structured_images(300)
    key = generate_key(scheme, block_size=4, image_size=(32, 32))
    encrypted = keras_lie.encrypt(x, key)
    outcome = ciphertext_only_attack_position_keyed(x, encrypted, scheme, 4)
    assert outcome["method"] == "thumbnails over the images held"
    ceiling, _ = score_reconstruction(x, block_means(gray(x)[..., None], 4))  # the true thumbnails
    assert outcome["ssim_reconstruction"] > max(0.5 * ceiling, outcome["ssim_encrypted_baseline"] + 0.1)
    assert outcome["reconstruction"].shape == (300, 32, 32)
    assert np.isfinite(outcome["psnr_reconstruction_db"])
