"""Running a ciphertext-only attack on the images held and scoring it against the plain images (plain first)."""

import keras_lie
from keras_lie.keys import generate_key
from keras_lie.security import ciphertext_only_attack

from synthetic_images import structured_images


def test_attack_reports_the_full_resolution_score():
    x = structured_images(16)
    key = generate_key("learnable", block_size=4)
    outcome = ciphertext_only_attack(x, keras_lie.encrypt(x, key), "learnable", 4)
    assert outcome["ssim_reconstruction"] > max(0.9, outcome["ssim_flat_baseline"] + 0.1)
    assert outcome["psnr_reconstruction_db"] > 20 and outcome["reconstruction"].shape == x.shape[:3]


def test_ciphertext_only_attack_beats_a_random_guess_on_structured_images():
    x = structured_images(40)
    key = generate_key("learnable", block_size=4, seed=3)
    outcome = ciphertext_only_attack(x, keras_lie.encrypt(x, key), "learnable", 4, attack_images=20)
    assert outcome["attack_images"] == 20
    assert outcome["ssim_reconstruction"] > outcome["ssim_flat_baseline"] + 0.1
    assert outcome["ssim_reconstruction"] > outcome["ssim_encrypted_baseline"] + 0.1
