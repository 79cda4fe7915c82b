"""The extended learnable encryption (ELE) of Madono et al., AAAI-20 workshop (arXiv:2001.07761)."""

from __future__ import annotations

import numpy as np

from keras_lie.blocks import reversal_parity
from keras_lie.keys import ELEKey
from keras_lie.schemes._gather import blockwise_plan
from keras_lie.schemes.position_keyed import PositionKeyedScheme


class ELEScheme(PositionKeyedScheme):
    """Tanaka's nibble encryption with a different key for every block position, then a block shuffle.

    For the block at plain position `s`, with key row `k = nibble_keys[s]` and
    mask `v = k > M*M*C`: split its bytes into nibbles (lower nibbles, then
    upper), reverse where `v` is set, take `m[q] = n[k[q]]`, reverse where `v` is
    set, recombine. Then ciphertext block `b` is the transformed plain block
    `block_permutation[b]`. Decryption uses `argsort(k)` with the same mask, and
    the inverse block shuffle; it is exact. Bit for bit the reference code's
    (`ele_golden_m4.npz`).

    Input shape: `(N, H, W, C)` or `(H, W, C)` with (H, W) the key's `image_size`.
    Output shape: the same.

    Example:

    >>> key = ELEKey.generate(block_size=4, channels=3, image_size=(32, 32))
    >>> scheme = ELEScheme(key)
    >>> x = np.random.randint(0, 256, (8, 32, 32, 3), np.uint8)
    >>> bool((scheme.decrypt(scheme.encrypt(x)) == x).all())
    True
    """

    name = "ele"
    key_class = ELEKey

    def nibble_sources(self, direction) -> tuple[np.ndarray, np.ndarray]:
        """Per output block: the input nibble each output nibble comes from, and its XOR (0 or 15)."""
        keys = self.rows_for_output(self.key.nibble_keys, direction)
        masks = self.rows_for_output(self.key.reversal_masks, direction)
        source = keys if direction == "encrypt" else np.argsort(keys, axis=1)
        return source, 15 * reversal_parity(source, masks)

    def plan(self, height, width, direction):
        source, xor = self.nibble_sources(direction)
        return blockwise_plan(height, width, self.channels, self.block_size, source, xor,
                              block_source=self.block_sources(direction), nibbles=True)
