"""What a ciphertext-only reconstruction takes (a batch of encrypted images) and returns, for every scheme."""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_lie.errors import ImageShapeError


@dataclasses.dataclass
class Reconstruction:
    """What `reconstruct_from_ciphertexts` recovered.

    Attributes:
        images: float array (N, H, W, C) in 0..255: the reconstruction in one
            polarity, colour channels in an unknown order.
        inverted: the other polarity (the proposed scheme's global inversion);
            equal to `images` where there is no such ambiguity.
        ambiguities: what the attack cannot decide from ciphertexts alone.
        levels: grey levels per channel recovered (16 for the proposed scheme's
            upper nibbles, 256 for the exact bytes of the naive shuffle).
        symbols: for each position (row, column, channel) of a block, flattened,
            the encrypted symbol placed there (nibble index 0..2d-1 or byte 0..d-1);
            None for schemes without one key shared by every block (ELE, EtC, the
            cat map).
        parity: +1 / -1 per placed symbol: reversed relative to the others (up to
            one global sign); all +1 for schemes without reversal; None where
            `symbols` is.
        colour: whether `images` holds the colours (channels in an unknown
            order); False where only the grey picture was recovered and
            `images` repeats it in every channel.
    """

    images: np.ndarray
    inverted: np.ndarray
    ambiguities: tuple[str, ...]
    levels: int
    symbols: np.ndarray | None = None
    parity: np.ndarray | None = None
    colour: bool = False

    @property
    def grey(self) -> np.ndarray:
        """uint8 (N, H, W): the mean over channels, free of the channel-order ambiguity."""
        return _to_uint8(self.images.mean(axis=-1))

    @property
    def grey_inverted(self) -> np.ndarray:
        """uint8 (N, H, W): the same for the other polarity."""
        return _to_uint8(self.inverted.mean(axis=-1))


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def encrypted_batch(encrypted_images) -> np.ndarray:
    """The encrypted images as a non-empty (N, H, W, C) array; a single (H, W, C) image becomes a batch of one.

    Raises:
        ImageShapeError: for any other shape.
    """
    x = np.asarray(encrypted_images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] == 0:
        raise ImageShapeError(f"Expected encrypted images (N, H, W, C), got shape {np.asarray(encrypted_images).shape}.")
    return x
