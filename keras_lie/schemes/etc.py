"""The block scrambling of encryption-then-compression (EtC; Kurihara, Chuman, Kiya)."""

from __future__ import annotations

import numpy as np

from keras_lie.errors import KeyMismatchError
from keras_lie.keys import EtCKey
from keras_lie.schemes._gather import blockwise_plan
from keras_lie.schemes.position_keyed import PositionKeyedScheme


class EtCScheme(PositionKeyedScheme):
    """Per-block rotation, negative-positive transform, mirror and colour shuffle, then a block shuffle.

    For the block `B` at plain position `s`, in this order: rotate it by
    `rotations[s]` counter-clockwise quarter turns; `255 - x` if `negative[s]`;
    reverse its rows if `flip_vertical[s]`, else its columns if
    `flip_horizontal[s]`; output channel `c` is input channel
    `channel_sources[s, c]`. Then ciphertext block `b` is the transformed plain
    block `block_permutation[b]`. Every step moves or negates whole bytes, so the
    scheme is one byte gather and an XOR. Decryption is exact for keys whose
    colour shuffle is a permutation; a `colour_shuffle="reference_code"` key
    (the reference code's lossy colour step) is refused. Bit for bit the
    reference code's (`etc_golden_m4.npz`, both variants).

    Input shape: `(N, H, W, C)` or `(H, W, C)` with (H, W) the key's `image_size`.
    Output shape: the same.

    Example:

    >>> key = EtCKey.generate(block_size=4, channels=3, image_size=(32, 32))
    >>> scheme = EtCScheme(key)
    >>> x = np.random.randint(0, 256, (8, 32, 32, 3), np.uint8)
    >>> bool((scheme.decrypt(scheme.encrypt(x)) == x).all())
    True
    """

    name = "etc"
    key_class = EtCKey

    def encryption_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """Per plain block s: for each byte of its encrypted block, the byte of `B` it comes from; and the XOR.

        Offsets in (row, column, channel) order, shape (blocks, M*M*C); the XOR is
        255 in every byte of a negated block, else 0.
        """
        key, m = self.key, self.block_size
        i, j, c = (axis.reshape(1, -1) for axis in np.meshgrid(np.arange(m), np.arange(m), np.arange(self.channels),
                                                                indexing="ij"))
        channel = np.take_along_axis(key.channel_sources, np.broadcast_to(c, (key.blocks, c.size)), axis=1)
        # Mirror (step 3), read backwards: the byte at (i, j) of B3 is B2 at (a, b).
        a = np.where(key.flip_vertical[:, None], m - 1 - i, i)
        b = np.where(key.flip_horizontal[:, None], m - 1 - j, j)
        # Rotation by t counter-clockwise quarter turns (step 1): B1[a, b] = B[row, col].
        t = key.rotations[:, None]
        row = np.select([t == 0, t == 1, t == 2], [a, b, m - 1 - a], m - 1 - b)
        col = np.select([t == 0, t == 1, t == 2], [b, m - 1 - a, m - 1 - b], a)
        offsets = (row * m + col) * self.channels + channel
        xor = np.broadcast_to(255 * key.negative[:, None].astype(np.int64), offsets.shape)
        return offsets, xor

    def plan(self, height, width, direction):
        offsets, xor = self.encryption_maps()
        if direction == "decrypt":
            if not self.key.invertible:
                raise KeyMismatchError(
                    "This etc key uses the reference code's colour step (colour_shuffle='reference_code'), which "
                    "copies colour channels over each other: its images cannot be decrypted. Use a key with "
                    "colour_shuffle='permute' (the default of EtCKey.generate and from_reference_npz) for data "
                    "that must be decrypted."
                )
            offsets = np.argsort(offsets, axis=1)  # the negation is the same for every byte of a block
        return blockwise_plan(height, width, self.channels, self.block_size,
                              self.rows_for_output(offsets, direction), self.rows_for_output(xor, direction),
                              block_source=self.block_sources(direction))
