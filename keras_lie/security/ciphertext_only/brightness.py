"""Brightness-only ciphertext-only attacks: a 1/M-resolution picture (the block brightness) of every image.

Threat model as for every ciphertext-only attack (`keras_lie.security.ciphertext_only`):
encrypted images only, all under one key; the scheme and block size are known.

- Proposed scheme (`estimate_nibble_model`, `reconstruct_learnable`): the first
  steps of the full attack (`reconstruction`): which encrypted nibbles come from
  upper nibbles, and their reversal parities, from encrypted images alone; kept
  for the leakage measurements (`key_leakage`).
- Block means (`reconstruct_block_means`): the exact block brightness of the
  naive shuffle, and, from plain images, the reference every attack is scored
  against (the ceiling of a brightness-only attack).
- ELE and EtC, many images (`reconstruct_thumbnails`): a fixed block shuffle
  keeps every block position's brightness series over the images; neighbouring
  blocks' series correlate, so a placer puts the positions on the grid and gives
  a 1/M-resolution image of every image. For ELE the brightness of a position is
  read from its upper nibbles, found from the correlations of that position's
  nibbles over the images (the LE attack, position by position). The global
  orientation and polarity stay open (`scoring.score_reconstruction` takes the
  better of them).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_lie.blocks import (
    block_grid,
    block_means,
    block_vectors,
    estimate_upper_nibbles,
    estimate_upper_nibbles_per_position,
    nibbles,
)


@dataclasses.dataclass
class NibbleModel:
    """What the attack on the proposed scheme estimates from encrypted images."""

    upper_positions: np.ndarray  # encrypted nibble positions judged to come from upper nibbles
    parity: np.ndarray  # +1 / -1 reversal parity of each of them (up to one global sign)


def estimate_nibble_model(encrypted, block_size: int) -> NibbleModel:
    """Estimate upper-nibble positions and reversal parities from encrypted images only."""
    upper, parity = estimate_upper_nibbles(encrypted, block_size, use_neighbours=False)
    return NibbleModel(upper, parity)


def reconstruct_learnable(encrypted, model: NibbleModel, block_size: int) -> np.ndarray:
    """Block-brightness reconstruction (N, H, W) in 0..255 from a `NibbleModel`."""
    encrypted = np.asarray(encrypted)
    n, h, w, _ = encrypted.shape
    e = nibbles(block_vectors(encrypted, block_size)).astype(np.float64)[:, model.upper_positions]
    brightness = np.where(model.parity > 0, e, 15 - e).mean(axis=1) * 17
    return _upsample(brightness.reshape(n, h // block_size, w // block_size), block_size)


def reconstruct_block_means(encrypted, block_size: int) -> np.ndarray:
    """Block-mean reconstruction (N, H, W): exact block brightness for the naive shuffle."""
    return _upsample(block_means(encrypted, block_size), block_size)


def reconstruct_thumbnails(encrypted, scheme: str, block_size: int) -> np.ndarray:
    """Block-brightness images (N, H/M, W/M) of every image, from many encrypted images only."""
    encrypted = np.asarray(encrypted)
    grid = block_grid(encrypted, block_size)  # (N, R, C, d)
    n, rows, columns, d = grid.shape
    blocks = grid.reshape(n, rows * columns, d).astype(np.float64)
    if scheme == "etc":
        brightness = blocks.mean(axis=-1)  # blind to rotation, mirror and colour shuffle; negation flips it
    else:  # ele: per position, the upper nibbles correlate with each other over the images
        upper, parity = estimate_upper_nibbles_per_position(encrypted, block_size)
        values = nibbles(blocks.astype(np.int64)).astype(np.float64)
        brightness = (values * parity).sum(axis=-1) / upper.sum(axis=-1)
    series = _standardised(brightness)
    # Image-wide brightness moves every position together: the leading eigenvector of the
    # positions' correlations gives each one's polarity (negated EtC blocks, ELE's unknown sign).
    _, vectors = np.linalg.eigh(series.T @ series / n)
    series *= np.where(vectors[:, -1] >= 0, 1.0, -1.0)
    # Without that common part, what is left correlates most between neighbouring blocks.
    residual = _standardised(series - series.mean(axis=1, keepdims=True))
    similarity = residual.T @ residual / n
    cells = _place_on_grid(similarity, rows, columns)
    thumbnails = np.zeros((n, rows * columns))
    thumbnails[:, cells] = series
    return thumbnails.reshape(n, rows, columns)


def _place_on_grid(similarity: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """The grid cell (raster index) of every item, so that similar items are neighbours.

    Undirected similarities cannot tell left from above, so: a spectral embedding
    of the items' 4-nearest-neighbour graph (Laplacian eigenmaps: on a grid
    graph its first two non-trivial eigenvectors run along the two axes), turned
    by the angle whose sort into rows and columns fits best, then refined by
    swaps while the summed similarity of grid neighbours grows.
    """
    items = len(similarity)
    weights = np.zeros_like(similarity)
    nearest = np.argsort(-(similarity - np.eye(items) * 1e9), axis=1)[:, :4]
    for item, partners in enumerate(nearest):
        weights[item, partners] = weights[partners, item] = 1.0
    laplacian = np.diag(weights.sum(axis=1)) - weights
    _, vectors = np.linalg.eigh(laplacian)
    embedding = vectors[:, 1:3]
    pairs = _grid_pairs(rows, columns)

    def score(cells):
        at = np.empty(items, int)
        at[cells] = np.arange(items)
        return similarity[at[pairs[:, 0]], at[pairs[:, 1]]].sum()

    best_cells, best_score = None, -np.inf
    for angle in np.deg2rad(np.arange(0, 180, 3)):
        turned = embedding @ np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        order = np.argsort(turned[:, 0], kind="stable")
        cells = np.empty(items, int)
        for row, members in enumerate(np.array_split(order, rows)):
            for column, item in enumerate(members[np.argsort(turned[members, 1], kind="stable")]):
                cells[item] = row * columns + column
        candidate = score(cells)
        if candidate > best_score:
            best_cells, best_score = cells, candidate
    cells = best_cells
    improved = True
    while improved:  # pairwise swaps while they help
        improved = False
        for a in range(items):
            for b in range(a + 1, items):
                cells[[a, b]] = cells[[b, a]]
                candidate = score(cells)
                if candidate > best_score + 1e-12:
                    best_score, improved = candidate, True
                else:
                    cells[[a, b]] = cells[[b, a]]
    return cells


def _grid_pairs(rows: int, columns: int) -> np.ndarray:
    """(cell, cell) index pairs of horizontally and vertically adjacent grid cells."""
    index = np.arange(rows * columns).reshape(rows, columns)
    return np.concatenate([np.stack([index[:, :-1].ravel(), index[:, 1:].ravel()], 1),
                           np.stack([index[:-1].ravel(), index[1:].ravel()], 1)])


def _standardised(values: np.ndarray) -> np.ndarray:
    values = values - values.mean(axis=0)
    return values / np.maximum(values.std(axis=0), 1e-9)


def _upsample(values: np.ndarray, block_size: int) -> np.ndarray:
    return np.repeat(np.repeat(values, block_size, axis=1), block_size, axis=2)
