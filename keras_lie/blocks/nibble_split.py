"""The nibble split: a block's nibble vector is its d lower nibbles followed by its d upper nibbles.

Also the nibble-key conventions of the authors' code (its length, which positions
it reverses). NumPy arrays in and out, except `split_nibbles` (Keras ops).
"""

from __future__ import annotations

import numpy as np

from keras_lie.blocks.grid import block_vectors

# Keras is imported inside the functions that use it: the NumPy users (the attacks) never import TensorFlow.

def nibbles(byte_values) -> np.ndarray:
    """Lower nibbles of the last axis, then upper: (..., d) -> (..., 2d), as the encryption orders them."""
    b = np.asarray(byte_values).astype(np.int16)
    return np.concatenate([b & 15, b >> 4], axis=-1)


def nibble_vectors(images, block_size: int) -> np.ndarray:
    """Block vectors split into nibbles: (blocks, 2d)."""
    return nibbles(block_vectors(images, block_size))


def split_nibbles(images):
    """Split byte values (0..255) into nibbles with Keras ops: lower 4 bits of every channel, then upper.

    Input shape: `(..., C)`. Output shape: `(..., 2C)`, float32 values in 0..15, with
    channel `c` the lower and channel `C + c` the upper nibble of input channel `c`
    (the order of the encryption's nibble vector).
    """
    from keras import ops

    x = ops.cast(images, "float32")
    upper = ops.floor(x / 16.0)
    return ops.concatenate([x - 16.0 * upper, upper], axis=-1)


def nibbles_per_block(block_size: int, channels: int) -> int:
    """The nibbles of one M x M x C block (two per byte): the length of a nibble key."""
    return 2 * block_size * block_size * channels


def reversal_mask(nibble_key: np.ndarray) -> np.ndarray:
    """The nibble positions a nibble key reverses, as the authors' code derives them: `k[i] > d`.

    Strictly greater (not >=), as in the reference implementation: key value d is
    not reversed. Works row by row on `(..., 2d)` arrays too (ELE's per-block keys).
    """
    nibble_key = np.asarray(nibble_key)
    return nibble_key > nibble_key.shape[-1] // 2


def reversal_parity(source: np.ndarray, reversal_mask: np.ndarray) -> np.ndarray:
    """For each output nibble i taken from nibble `source[i]`: 1 where it ends up reversed, else 0.

    The proposed scheme reverses its nibble vector where the mask is set, permutes,
    and reverses again where the mask is set, so nibble i is reversed relative to
    its source exactly when `mask[source[i]] != mask[i]`. Works row by row on
    `(..., 2d)` arrays too (one key per block position, as in ELE).
    """
    mask = np.asarray(reversal_mask).astype(np.int64)
    return np.take_along_axis(mask, np.asarray(source), axis=-1) ^ mask
