"""Block index maths: cutting images into M x M blocks and back.

An image is cut into M x M blocks; a block is flattened in (row, column, channel)
order into d = M*M*C bytes (the convention of the authors' code). The NumPy
functions take arrays; `space_to_depth`/`depth_to_space` use Keras ops, and
`offset_coordinates` works on NumPy arrays and TensorFlow tensors alike.
"""

from __future__ import annotations

import numpy as np

# The block size of Tanaka's Table I: the keys' default M, and the stem of the paper's network for every scheme.
PAPER_BLOCK_SIZE = 4


# Keras is imported inside the functions that use it: the NumPy users (the attacks) never import TensorFlow.

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


def block_means(images, block_size: int) -> np.ndarray:
    """Mean of every M x M x C block, as a (N, H/M, W/M) array."""
    return block_grid(images, block_size).astype(np.float64).mean(axis=-1)


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
