"""Naive block-wise pixel shuffle: the paper's learnable-but-visible baseline."""

from __future__ import annotations

import numpy as np

from keras_lie.keys import BlockShuffleKey
from keras_lie.schemes._gather import blockwise_plan
from keras_lie.schemes.base import Scheme


class BlockShuffleScheme(Scheme):
    """Shuffle the M*M*C byte values of every M x M block with one keyed permutation.

    A block is flattened in (row, column, channel) order into `b`; the encrypted
    block is `c[j] = b[p[j]]` for the key's permutation `p`, the same for every
    block of every image. No intensity change, so object outlines stay visible.

    Input shape: `(N, H, W, C)` or `(H, W, C)` with H and W multiples of M.
    Output shape: the same.

    Example:

    >>> key = BlockShuffleKey.generate(block_size=4, channels=3)
    >>> scheme = BlockShuffleScheme(key)
    >>> x = np.random.randint(0, 256, (8, 32, 32, 3), np.uint8)
    >>> bool((scheme.decrypt(scheme.encrypt(x)) == x).all())
    True
    """

    name = "block_shuffle"
    key_class = BlockShuffleKey

    def block_source(self, direction) -> np.ndarray:
        """For each position j of an output block, the input position it comes from."""
        permutation = self.key.permutation
        return permutation if direction == "encrypt" else np.argsort(permutation)

    def plan(self, height, width, direction):
        return blockwise_plan(height, width, self.channels, self.block_size, self.block_source(direction))
