import numpy as np
import pytest

from keras_lie.security import adjacent_correlation, histogram_entropy, npcr_uaci, psnr, ssim


def test_identical_images(rng):
    x = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    assert psnr(x, x) == float("inf")
    assert ssim(x, x) == pytest.approx(1.0)
    assert npcr_uaci(x, x) == (0.0, 0.0)


def test_known_values():
    a = np.zeros((1, 8, 8, 1), np.uint8)
    b = np.full((1, 8, 8, 1), 255, np.uint8)
    assert psnr(a, b) == pytest.approx(0.0)
    assert npcr_uaci(a, b) == (100.0, 100.0)
    c = a.copy()
    c[0, 0, 0, 0] = 51  # one value of 64 differs by 51/255
    npcr, uaci = npcr_uaci(a, c)
    assert npcr == pytest.approx(100 / 64) and uaci == pytest.approx(100 / 64 * 0.2)
    assert psnr(a, c) == pytest.approx(10 * np.log10(255**2 / (51**2 / 64)))


def test_adjacent_correlation_of_a_ramp_and_of_a_known_permutation(rng):
    ramp = np.tile(np.arange(16, dtype=np.uint8) * 16, (16, 1))[None, :, :, None]
    ramp = ramp + np.arange(16, dtype=np.uint8)[None, :, None, None]  # varies both ways
    corr = adjacent_correlation(ramp)
    assert corr["horizontal"] > 0.95 and corr["vertical"] > 0.95
    # A random permutation of the pixels destroys adjacency.
    permuted = ramp.reshape(-1)[rng.permutation(256)].reshape(ramp.shape)
    assert abs(adjacent_correlation(permuted)["horizontal"]) < 0.2
    # Alternating 0/255 columns: horizontal -1, vertical +1.
    stripes = np.tile(np.array([0, 255], np.uint8), (8, 4))[None, :, :, None]
    corr = adjacent_correlation(stripes)
    assert corr["horizontal"] == pytest.approx(-1) and corr["vertical"] == pytest.approx(1)


def test_entropy():
    uniform = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    assert histogram_entropy(uniform) == [pytest.approx(8.0)]
    assert histogram_entropy(np.zeros((1, 4, 4, 2), np.uint8)) == [0.0, 0.0]


def test_best_global_ssim_undoes_one_symmetry_and_polarity_for_the_whole_set(rng):
    from keras_lie.security.metrics import best_global_ssim, gray

    plain = np.repeat(np.cumsum(rng.integers(0, 9, (70, 12, 12, 1)), axis=2), 3, axis=-1).clip(0, 255).astype(np.uint8)
    grey = gray(plain)
    score, which = best_global_ssim(plain, 255.0 - np.rot90(grey, 1, axes=(1, 2))[:, :, ::-1])
    assert score == pytest.approx(1.0) and which.endswith("mirror, negative")
    # One choice for the set: images oriented differently cannot all be undone.
    mixed = grey.copy()
    mixed[::2] = mixed[::2, ::-1]
    assert best_global_ssim(plain, mixed)[0] < 0.99
    # Non-square images never get a transposing symmetry.
    wide = plain[:, :6]
    assert best_global_ssim(wide, gray(wide)[:, ::-1, ::-1])[1] == "rotate 180"
