"""Block and nibble maths: the one home for what schemes, layers, models and security share.

Conventions (those of the authors' code): an image is cut into M x M blocks; a
block is flattened in (row, column, channel) order into d = M*M*C bytes; its
nibble vector is the d lower nibbles followed by the d upper nibbles. Functions
take NumPy arrays unless they say otherwise; `split_nibbles` takes any tensor
(Keras ops) and `offset_coordinates` works on NumPy arrays and TensorFlow
tensors alike.
"""

from __future__ import annotations

import numpy as np

# The block size of Tanaka's Table I: the keys' default M, and the stem of the paper's network for every scheme.
PAPER_BLOCK_SIZE = 4

# Keras is imported inside the three functions that need it: importing it here, while this module
# is half-initialised, would run keras-lie's registration of its layers (which imports this module).


def offset_coordinates(offsets, block_size: int, channels: int):
    """(row, column, channel) inside a block of each flat block offset 0 <= offset < M*M*C."""
    return offsets // (block_size * channels), (offsets // channels) % block_size, offsets % channels


def block_grid(images, block_size: int) -> np.ndarray:
    """(N, H, W, C) -> (N, H/M, W/M, M*M*C): every whole block flattened; a remainder is dropped."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[None]
    n, h, w, c = x.shape
    m = block_size
    bh, bw = h // m, w // m
    x = x[:, : bh * m, : bw * m].reshape(n, bh, m, bw, m, c)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(n, bh, bw, m * m * c)


def from_block_grid(grid: np.ndarray, block_size: int, channels: int) -> np.ndarray:
    """The inverse of `block_grid`: (N, H/M, W/M, M*M*C) -> (N, H, W, C)."""
    n, bh, bw, _ = grid.shape
    m = block_size
    x = grid.reshape(n, bh, bw, m, m, channels).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(n, bh * m, bw * m, channels)


def block_vectors(images, block_size: int) -> np.ndarray:
    """(N, H, W, C) -> (N * H/M * W/M, M*M*C): every block flattened, blocks in raster order."""
    grid = block_grid(images, block_size)
    return grid.reshape(-1, grid.shape[-1])


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


def space_to_depth(images, block_size: int):
    """(N, H, W, C) -> (N, H/M, W/M, M*M*C) with Keras ops, in (row, column, channel) order within a block."""
    from keras import ops

    m = block_size
    shape = ops.shape(images)
    channels = images.shape[-1]
    x = ops.reshape(images, (-1, shape[1] // m, m, shape[2] // m, m, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, shape[1] // m, shape[2] // m, m * m * channels))


def depth_to_space(images, block_size: int):
    """The inverse of `space_to_depth`: (N, H, W, M*M*C) -> (N, H*M, W*M, C)."""
    from keras import ops

    m = block_size
    shape = ops.shape(images)
    channels = images.shape[-1] // (m * m)
    x = ops.reshape(images, (-1, shape[1], shape[2], m, m, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, shape[1] * m, shape[2] * m, channels))


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


def correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation [i, j] between column i of `a` and column j of `b` (constant columns give 0)."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    sa, sb = a.std(axis=0), b.std(axis=0)
    sa[sa == 0] = 1
    sb[sb == 0] = 1
    return (a / sa).T @ (b / sb) / max(1, len(a))


def estimate_upper_nibbles(encrypted_images, block_size: int, *, use_neighbours: bool = True):
    """Which encrypted nibble positions carry plain upper nibbles, and their reversal parities.

    From encrypted images alone: upper-nibble positions correlate with each other
    (negatively where one of the two is reversed) and, with `use_neighbours`, with
    themselves one block to the right and below; lower nibbles look like noise.
    Returns (upper positions sorted, parity +1/-1 each up to one global sign).
    """
    grid = nibbles(block_grid(encrypted_images, block_size)).astype(np.float64)
    two_d = grid.shape[-1]
    flat = grid.reshape(-1, two_d)
    within = correlation(flat, flat)
    np.fill_diagonal(within, 0)
    score = np.abs(within).mean(axis=1)
    if use_neighbours:
        if grid.shape[2] > 1:
            score += np.diag(correlation(grid[:, :, :-1].reshape(-1, two_d), grid[:, :, 1:].reshape(-1, two_d)))
        if grid.shape[1] > 1:
            score += np.diag(correlation(grid[:, :-1].reshape(-1, two_d), grid[:, 1:].reshape(-1, two_d)))
    return _upper_half_and_parity(within, score)


def estimate_upper_nibbles_per_position(encrypted_images, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """`estimate_upper_nibbles` position by position, over the images: for schemes with a key per position (ELE).

    Returns `(upper, parity)`, both `(positions, 2d)`: whether each encrypted
    nibble of each block position carries an upper nibble, and for those their
    reversal parity (+1/-1, up to one sign per position; 0 elsewhere). Needs
    many images: each position's statistics come from that position alone.
    """
    grid = nibbles(block_grid(encrypted_images, block_size)).astype(np.float64)
    values = grid.reshape(len(grid), -1, grid.shape[-1])
    upper = np.zeros(values.shape[1:], bool)
    parity = np.zeros(values.shape[1:])
    for position in range(values.shape[1]):
        within = correlation(values[:, position], values[:, position])
        np.fill_diagonal(within, 0)
        chosen, signs = _upper_half_and_parity(within, np.abs(within).mean(axis=1))
        upper[position, chosen] = True
        parity[position, chosen] = signs
    return upper, parity


def _upper_half_and_parity(within: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The highest-scoring half of the nibble positions (sorted), and their parities.

    A parity is the sign of the position in the leading eigenvector of the chosen
    positions' correlations (`within`, zero diagonal): +1/-1, up to one global sign.
    """
    upper = np.sort(np.argsort(score, kind="stable")[-len(score) // 2 :])
    _, vectors = np.linalg.eigh(within[np.ix_(upper, upper)])
    return upper, np.where(vectors[:, -1] >= 0, 1.0, -1.0)


def block_means(images, block_size: int) -> np.ndarray:
    """Mean of every M x M x C block, as a (N, H/M, W/M) array."""
    return block_grid(images, block_size).astype(np.float64).mean(axis=-1)
