"""Block and nibble views of images, for analysis (not for encryption)."""

from __future__ import annotations

import numpy as np


def block_vectors(images, block_size: int) -> np.ndarray:
    """(N, H, W, C) -> (N * H/M * W/M, M*M*C): every block flattened in (row, column, channel) order."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[None]
    n, h, w, c = x.shape
    m = block_size
    x = x[:, : h - h % m, : w - w % m]
    h, w = x.shape[1], x.shape[2]
    return x.reshape(n, h // m, m, w // m, m, c).transpose(0, 1, 3, 2, 4, 5).reshape(-1, m * m * c)


def nibble_vectors(images, block_size: int) -> np.ndarray:
    """Block vectors split into nibbles: lower 4 bits of every byte, then upper (as the encryption)."""
    b = block_vectors(images, block_size).astype(np.int16)
    return np.concatenate([b & 15, b >> 4], axis=1)


def gray(images) -> np.ndarray:
    """Mean over channels, float (N, H, W)."""
    x = np.asarray(images, dtype=np.float64)
    return x.mean(axis=-1)


def block_means(images, block_size: int) -> np.ndarray:
    """Mean of every M x M x C block, as a (N, H/M, W/M) array."""
    x = np.asarray(images, dtype=np.float64)
    n, h, w, c = x.shape
    m = block_size
    return x[:, : h - h % m, : w - w % m].reshape(n, h // m, m, w // m, m, c).mean(axis=(2, 4, 5))
