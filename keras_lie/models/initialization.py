"""Key-free, data-driven initialisation of the key-equivariant stem."""

from __future__ import annotations

import keras
import numpy as np

from keras_lie.blocks import estimate_upper_nibbles
from keras_lie.models.classifier import find_block_stem
from keras_lie.models.conversion import block_kernel_rows


def initialize_stem_from_data(model: keras.Model, encrypted_images, *, lower_scale: float = 1 / 16) -> np.ndarray:
    """Weight the stem's nibble inputs like bytes do: upper nibbles 1, lower nibbles `lower_scale`.

    Needs no key: which encrypted nibbles come from upper nibbles is estimated
    from the encrypted training images themselves (they correlate with each
    other; lower nibbles look like noise), with `keras_lie.blocks.estimate_upper_nibbles`,
    the first step of the ciphertext-only attack. The estimate sets the gammas of the stem's
    per-input normalisation, so that the block embedding starts from a
    recombination close to 16 * upper + lower instead of weighting every nibble
    alike. (That this works is the same leak `docs/security.md` reports.)

    Returns the boolean mask of block inputs judged to carry upper nibbles.
    """
    stem = find_block_stem(model)
    if stem.input_mode != "nibbles" or stem.input_norm is None:
        raise ValueError(
            "initialize_stem_from_data needs a BlockStem with input_mode='nibbles' and "
            "input_normalization=True."
        )
    images = np.asarray(encrypted_images).astype(np.uint8)
    upper_positions, _ = estimate_upper_nibbles(images, stem.block_size, use_neighbours=False)
    upper = np.zeros(2 * stem.block_size * stem.block_size * stem.input_channels, bool)
    upper[upper_positions] = True
    kernel = stem.block_conv.get_weights()[0]
    rows = block_kernel_rows(kernel, stem.block_size, stem.input_channels, "nibbles")
    gamma, beta, mean, variance = stem.input_norm.get_weights()
    gamma = np.array(gamma)
    gamma[rows] = np.where(upper, 1.0, lower_scale)
    stem.input_norm.set_weights([gamma, beta, mean, variance])
    return upper
