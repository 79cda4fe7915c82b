"""Statistics over many encrypted blocks: which nibble positions carry plain upper nibbles.

Shared by the ciphertext-only attacks (`keras_lie.security`) and the stem's
initialisation from encrypted data (`keras_lie.models.initialization`).
"""

from __future__ import annotations

import numpy as np

from keras_lie.blocks.grid import block_grid
from keras_lie.blocks.nibble_split import nibbles


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
