"""The ciphertext-only reconstruction at full resolution, every scheme's entry point, and the attack on the schemes
with one key for every block (the proposed scheme, the naive block shuffle).

Keys come from the OS CSPRNG in every test (never a seed the code could have seen),
and CIFAR-10 test images are taken from the shared zip where it is present.
"""

import numpy as np
import pytest

import keras_lie
from keras_lie.errors import KerasLieError
from keras_lie.keys import generate_key
from keras_lie.security import reconstruct_from_ciphertexts
from keras_lie.security.ciphertext_only.reconstruction import _anneal, _block_graph, _cost, _swap_deltas, _torus_graph
from keras_lie.security.metrics import ssim

from conftest import true_block_means_ssim
from synthetic_images import structured_images


def grey_ssim(plain, recovered):
    target = plain.mean(axis=-1, keepdims=True)
    return max(ssim(target, recovered.grey[..., None]), ssim(target, recovered.grey_inverted[..., None]))


def test_swap_deltas_equal_the_change_of_cost():
    rng = np.random.default_rng()
    relations = _block_graph(2, 3)
    pairs = [(a, rng.random((12, 12))) for a in relations]
    placement = rng.permutation(12)
    deltas = _swap_deltas(pairs, placement)
    for r, s in [(0, 1), (3, 7), (5, 11), (2, 9)]:
        swapped = placement.copy()
        swapped[[r, s]] = swapped[[s, r]]
        assert deltas[r, s] == pytest.approx(_cost(pairs, swapped) - _cost(pairs, placement))


def test_annealing_at_a_sharp_minimum_stays_finite():
    """Every move uphill and a low temperature once underflowed all weights to zero (p was NaN in CI)."""
    right, down = _torus_graph(3, 1)
    pairs = [(right, np.where(right > 0, 0.0, 1.0)), (down, np.where(down > 0, 0.0, 1.0))]
    for seed in range(5):
        with np.errstate(divide="raise", invalid="raise", over="raise"):
            placement = _anneal(pairs, 9, np.random.default_rng(seed), steps=540)
        assert sorted(placement) == list(range(9))
        assert _cost(pairs, placement) == 0  # the torus layout is found, up to a shift


DRAWS = 5  # independent draws of images and key per claim; the claim is about the median


def median_ssim_over_draws(images, scheme: str, block_size: int, count: int) -> tuple[float, list]:
    """The median grey SSIM of the reconstruction over `DRAWS` draws, each of `count` images and a fresh
    key, and the reconstructions.

    One draw falls short now and then (about 1 in 20 at M = 4 from 20 images: the
    neighbour criterion prefers a slightly wrong placement), so a single draw
    would make the test fail at that rate; five draws fail together far less often.
    """
    rng = np.random.default_rng()
    scores, reconstructions = [], []
    for _ in range(DRAWS):
        x = images[rng.choice(len(images), count, replace=False)]
        key = generate_key(scheme, block_size=block_size)
        recovered = reconstruct_from_ciphertexts(keras_lie.encrypt(x, key), scheme, block_size)
        assert recovered.images.shape == x.shape
        scores.append(grey_ssim(x, recovered))
        reconstructions.append(recovered)
    return float(np.median(scores)), reconstructions


@pytest.mark.parametrize("block_size, count, target", [(4, 20, 0.95), (8, 100, 0.8)])
def test_proposed_scheme_falls_to_ciphertexts_alone(cifar_test_images, block_size, count, target):
    median, reconstructions = median_ssim_over_draws(cifar_test_images, "learnable", block_size, count)
    assert all(r.levels == 16 and "global inversion" in r.ambiguities for r in reconstructions)
    assert median >= target
    # Far beyond a brightness-only attack (measured: true block means 0.5 at M = 4, 0.2 at M = 8).
    assert median >= true_block_means_ssim(cifar_test_images, block_size) + 0.3


def test_naive_shuffle_is_rebuilt(cifar_test_images):
    median = median_ssim_over_draws(cifar_test_images, "block_shuffle", 4, 20)[0]
    assert median > 0.95  # exact bytes in most draws
    assert median >= true_block_means_ssim(cifar_test_images, 4) + 0.3


def test_reconstruction_of_synthetic_images_and_odd_sizes():
    x = structured_images(12, size=20)  # 20 = 5 blocks of 4: whole blocks only
    key = generate_key("learnable", block_size=4)
    recovered = reconstruct_from_ciphertexts(keras_lie.encrypt(x, key), "learnable", 4)
    assert grey_ssim(x, recovered) > 0.8
    ragged = reconstruct_from_ciphertexts(keras_lie.encrypt(x, key)[:, :18, :19], "learnable", 4)
    assert ragged.images.shape == (12, 18, 19, 3)  # the remainder is filled, not dropped


def test_reconstruction_refuses_unknown_schemes_and_a_missing_block_size():
    images = np.zeros((1, 8, 8, 3), np.uint8)
    with pytest.raises(KerasLieError, match="No ciphertext-only attack for scheme 'rot13'; choose one of"):
        reconstruct_from_ciphertexts(images, "rot13", 4)
    for scheme in ("learnable", "block_shuffle", "ele", "etc"):
        with pytest.raises(KerasLieError, match="needs the block size"):
            reconstruct_from_ciphertexts(images, scheme)
    assert reconstruct_from_ciphertexts(images, "plain").grey.shape == (1, 8, 8)
