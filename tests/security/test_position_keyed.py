"""Attacks on ELE and EtC: chosen and known plaintext give a decryption map; images held give thumbnails."""

import numpy as np
import pytest

import keras_lie
from keras_lie.blocks import block_means
from keras_lie.keys import generate_key
from keras_lie.security import position_keyed
from keras_lie.security.metrics import gray
from keras_lie.security.report import security_report

from conftest import random_images
from test_attacks import structured_images


def smooth_images(count, size=32, seed=0):
    """Images with structure at several scales: what makes a jigsaw or a placement solvable."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(count):
        a, b, c, d = rng.uniform(1, 4, 4)
        field = np.sin(a * xx * np.pi + rng.uniform(0, 6)) + np.cos(b * yy * np.pi + rng.uniform(0, 6))
        field += 0.5 * np.sin((c * xx + d * yy) * np.pi)
        grey = (field - field.min()) / (np.ptp(field) + 1e-9) * 200 + 25
        images.append(np.stack([grey, np.roll(grey, 3, 0), grey[::-1]], -1))
    return np.clip(np.round(images), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("scheme, block_size, probes", [("ele", 4, 4), ("ele", 8, 4), ("etc", 4, 2), ("etc", 2, 2)])
def test_chosen_plaintext_gives_a_map_that_decrypts_everything(scheme, block_size, probes, rng):
    key = generate_key(scheme, block_size=block_size, image_size=(16, 24))
    found, probe_images = position_keyed.recover_map_chosen_plaintext(
        lambda x: keras_lie.encrypt(x, key), scheme, (16, 24, 3))
    assert len(probe_images) == probes and found.complete
    x = random_images(rng, (5, 16, 24, 3))
    np.testing.assert_array_equal(found.decrypt(keras_lie.encrypt(x, key)), x)


@pytest.mark.parametrize("scheme", ["ele", "etc"])
def test_known_plaintext_decides_the_map_from_a_few_pairs(scheme, rng):
    key = generate_key(scheme, block_size=4, image_size=(16, 16))
    x = random_images(rng, (12, 16, 16, 3))
    encrypted = keras_lie.encrypt(x, key)
    one = position_keyed.recover_map_known_plaintext(x[:1], encrypted[:1], scheme, 4)
    assert not one.complete  # one random pair leaves nibbles (ELE) or equal bytes undecided
    found = position_keyed.recover_map_known_plaintext(x[:6], encrypted[:6], scheme, 4)
    assert found.complete
    np.testing.assert_array_equal(found.decrypt(encrypted[6:]), x[6:])
    curve = position_keyed.known_plaintext_curve(x, encrypted, scheme, 4, counts=(1, 6))
    assert [row["decrypts_other_images_exactly"] for row in curve] == [False, True]


@pytest.mark.parametrize("scheme", ["ele", "etc"])
def test_images_held_give_thumbnails_of_every_image(scheme):
    x = structured_images(300)
    key = generate_key(scheme, block_size=4, image_size=(32, 32))
    encrypted = keras_lie.encrypt(x, key)
    outcome = position_keyed.attack_position_keyed(encrypted, x, scheme, 4)
    assert outcome["method"] == "thumbnails over the images held"
    ceiling, _ = position_keyed.score_reconstruction(x, block_means(gray(x)[..., None], 4))  # the true thumbnails
    assert outcome["ssim_reconstruction"] > max(0.5 * ceiling, outcome["ssim_encrypted_baseline"] + 0.1)
    assert outcome["reconstruction"].shape == (300, 32, 32)


def test_the_jigsaw_reassembles_single_etc_images():
    x = smooth_images(4, size=64, seed=3)
    key = generate_key("etc", block_size=8, image_size=(64, 64), seed=1)
    encrypted = keras_lie.encrypt(x, key)
    outcomes = [position_keyed.attack_position_keyed(image[None], plain[None], "etc", 8)
                for image, plain in zip(encrypted, x, strict=True)]
    assert {outcome["method"] for outcome in outcomes} == {"jigsaw of one image"}
    reconstructed = np.mean([outcome["ssim_reconstruction"] for outcome in outcomes])
    assert reconstructed > np.mean([outcome["ssim_encrypted_baseline"] for outcome in outcomes]) + 0.3


def test_the_report_has_ele_and_etc_rows(tmp_path):
    x = structured_images(24, size=16)  # small images: the report's every part, in a fraction of the time
    keys = [generate_key(s, block_size=4, seed=1, image_size=(16, 16)) for s in ("ele", "etc")]
    summary = security_report(x, tmp_path, keys=keys, command="pytest", attack_counts=(3, 20), attack_groups=1)
    ele, etc = summary["results"]
    assert ele["chosen_plaintext"]["recovered_the_key"] and etc["chosen_plaintext"]["recovered_the_key"]
    # At 16 x 16, ELE's probes need one image fewer than at 32 x 32 (4); EtC's two do not depend on the size.
    assert ele["chosen_plaintext"]["probe_images"] == 3 and etc["chosen_plaintext"]["probe_images"] == 2
    assert ele["key_space"]["effective_bits"] > 16 * 400
    # The ciphertext-only curve covers every count the images allow, each one scored.
    assert [row["attack_images"] for row in etc["ciphertext_only"]] == [3, 20]
    assert all(0 <= row["ssim_reconstruction"] <= 1 for row in ele["ciphertext_only"] + etc["ciphertext_only"])
    report = (tmp_path / "report.md").read_text()
    assert "| ele | 4 |" in report and "Known plaintext against the position-keyed schemes" in report
    assert (tmp_path / "grid_etc_m4.png").is_file()
