"""The ciphertext-only attack on ELE (a nibble key per block position, then a block shuffle).

Keys come from the OS CSPRNG in every test (never a seed the code could have seen), and CIFAR-10
test images are drawn at random from the shared zip where it is present.
"""


import numpy as np
import pytest

import keras_lie
from keras_lie.errors import ImageShapeError
from keras_lie.keys import generate_key
from keras_lie.security.ciphertext_only.ele import _corner_starts, _descend, reconstruct_ele
from keras_lie.security.metrics import best_global_ssim

from conftest import true_block_means


def test_descend_tracks_the_objective():
    rng = np.random.default_rng()
    template, links = rng.random((2, 9, 9))
    template, links = template + template.T, links + links.T
    np.fill_diagonal(template, 0)
    np.fill_diagonal(links, 0)
    layout, total = _descend(template, links, rng.permutation(9))
    assert total == pytest.approx(float((template * links[np.ix_(layout, layout)]).sum()))
    for r, s in [(0, 1), (2, 7), (4, 8)]:  # a local optimum: no swap improves it
        swapped = layout.copy()
        swapped[[r, s]] = swapped[[s, r]]
        assert float((template * links[np.ix_(swapped, swapped)]).sum()) <= total + 1e-9


def test_corner_starts_lay_out_an_exact_grid_graph():
    m = 6
    rng = np.random.default_rng()
    cells = np.arange(m * m)
    grid = (np.abs(cells[:, None] // m - cells[None] // m) + np.abs(cells[:, None] % m - cells[None] % m)) == 1
    hidden = rng.permutation(m * m)  # symbol hidden[cell] sits at cell
    links = np.zeros((m * m, m * m))
    links[np.ix_(hidden, hidden)] = grid + 0.01 * rng.random(grid.shape)
    links = (links + links.T) / 2
    np.fill_diagonal(links, 0)
    square = np.arange(m * m).reshape(m, m)
    symmetries = [np.rot90(square, k)[:, ::f].ravel() for k in range(4) for f in (1, -1)]
    found = _corner_starts(links, m)
    assert any((layout == hidden[s]).all() for layout in found for s in symmetries)


def test_ele_falls_to_ciphertexts_alone(cifar_test_images):
    """100 images under one fresh key: the 16-level grey picture, far above the true block means.

    Measured on 1,000 other CIFAR images and fresh keys: about 0.98 at M = 4 from 100 images
    (the 16-level ceiling), 0.95 from 30; the true block means give about 0.5.
    """
    x = cifar_test_images[:100]
    key = generate_key("ele", block_size=4, image_size=(32, 32))
    recovered = reconstruct_ele(keras_lie.encrypt(x, key), 4)
    assert recovered.images.shape == x.shape and recovered.levels == 16 and not recovered.colour
    assert "global inversion" in recovered.ambiguities and "global symmetry" in recovered.ambiguities
    score, _ = best_global_ssim(x, recovered.grey.astype(np.float64))
    baseline, _ = best_global_ssim(x, true_block_means(x, 4))
    assert score >= 0.9
    assert score >= baseline + 0.3


def test_ele_attack_checks_shapes():
    with pytest.raises(ImageShapeError):
        reconstruct_ele(np.zeros((2, 30, 32, 3), np.uint8), 4)
    with pytest.raises(ImageShapeError):
        reconstruct_ele(np.zeros((32, 32), np.uint8), 4)
