"""The proposed learnable image encryption of M. Tanaka, ICCE-TW 2018."""

from __future__ import annotations

import numpy as np

from keras_lie.blocks import reversal_parity
from keras_lie.keys import LearnableKey
from keras_lie.schemes._gather import blockwise_plan
from keras_lie.schemes.base import Scheme


class LearnableScheme(Scheme):
    """Block-wise pixel shuffling with nibble split and intensity reversal (Tanaka 2018).

    Exactly as the authors' code computes it, for every M x M block:

    1. flatten the block in (row, column, channel) order into bytes `b`, d = M*M*C;
    2. split into nibbles `n[0:d] = b & 0x0F`, `n[d:2d] = b >> 4`;
    3. with key permutation `k` of 0..2d-1 and mask `r[i] = k[i] > d`:
       reverse (x -> 15 - x) `n` where `r` is set, permute `m[i] = n[k[i]]`,
       reverse `m` where `r` is set;
    4. recombine `c[j] = (m[d + j] << 4) | m[j]`.

    Decryption is the same with `argsort(k)` and the same `r`. The same key
    serves every block of every image. Since a reversal of a 4-bit value is an
    XOR with 15, the whole map is `m[i] = n[k[i]] ^ 15*(r[k[i]] ^ r[i])`: one
    gather per output nibble, computed here on the flat image (see `_gather`).

    Input shape: `(N, H, W, C)` or `(H, W, C)` with H and W multiples of M.
    Output shape: the same.

    Example:

    >>> key = LearnableKey.generate(block_size=4, channels=3)
    >>> scheme = LearnableScheme(key)
    >>> x = np.random.randint(0, 256, (8, 32, 32, 3), np.uint8)
    >>> bool((scheme.decrypt(scheme.encrypt(x)) == x).all())
    True
    """

    name = "learnable"
    key_class = LearnableKey
    same_map_in_every_block = True

    def nibble_source(self, direction) -> tuple[np.ndarray, np.ndarray]:
        """For each output nibble i of a block: the input nibble it comes from, and its XOR."""
        permutation = self.key.permutation
        source = permutation if direction == "encrypt" else np.argsort(permutation)
        return source, 15 * reversal_parity(source, self.key.reversal_mask)

    def plan(self, height, width, direction):
        source, xor = self.nibble_source(direction)
        return blockwise_plan(height, width, self.channels, self.block_size, source, xor, nibbles=True)
