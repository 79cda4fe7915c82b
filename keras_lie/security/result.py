"""What the attacks return: a ciphertext-only `Reconstruction` (and the batch of encrypted images it takes), and
the `DecryptionMap` that the known- and chosen-plaintext attacks on the position-keyed schemes recover."""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_lie.errors import ImageShapeError
from keras_lie.security.geometry import from_units, units


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


@dataclasses.dataclass
class DecryptionMap:
    """For every unit (byte or nibble) of an encrypted image, the plain unit it holds, and whether reversed.

    Units are flat positions of the image's bytes (H*W*C) or nibbles (2*H*W*C:
    the lower nibbles of all bytes, then the upper). `source[p] == -1` where
    the attack could not decide.
    """

    unit: str  # "byte" or "nibble"
    image_shape: tuple[int, int, int]
    source: np.ndarray  # int (units,)
    reversed: np.ndarray  # bool (units,)

    @property
    def complete(self) -> bool:
        return bool((self.source >= 0).all())

    def decrypt(self, encrypted) -> np.ndarray:
        """Plain images from encrypted ones; undecided units come out as 0."""
        encrypted = np.asarray(encrypted)
        encrypted_units = units(encrypted, self.unit)
        top = 15 if self.unit == "nibble" else 255
        values = np.where(self.reversed, top - encrypted_units, encrypted_units)
        plain = np.zeros_like(encrypted_units)
        known = self.source >= 0
        plain[:, self.source[known]] = values[:, known]
        return from_units(plain, self.unit, encrypted.shape)
