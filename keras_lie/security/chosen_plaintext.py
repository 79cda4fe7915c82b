"""Chosen-plaintext key recovery: the fewest designed probe images that give away the whole key.

Threat model: the attacker can have images of their choice encrypted with the
victim's key (for example, by holding a printed pattern in front of the camera
whose frames are encrypted, or by submitting images to a data holder's
encryption service), and sees the encrypted results. No other image is needed.

The block-wise schemes encrypt every block with the same key, so one probe image
holds as many independent probes as it has blocks. Each probe block writes the
index of every plain position (nibble or byte) as one digit, so the encrypted
blocks spell out, for every encrypted position, where it came from:

- proposed scheme (2d nibble positions): block b holds digit b of the index in
  base 16, except the last digit, kept below 8, so that a reversal (x -> 15 - x)
  shows and is undone. Blocks: 1 + ceil(log16(2d / 8)) (2 at M = 4, 3 at M = 8).
  At least 2 are needed at any M >= 2: one block gives 8d bits, the key holds
  log2((2d)!) > 8d bits;
- naive block shuffle (d byte positions): block b holds digit b of the index in
  base 256: 1 block for d <= 256 (M <= 9 with 3 channels).

The recovered key is the scheme's own key object, equal to the victim's.

The position-keyed schemes (ELE, EtC; and the cat map, which moves whole bytes)
give every block position its own key, so one probe block no longer speaks for
the others (`recover_map_chosen_plaintext`): each byte (EtC) or nibble (ELE) of
a probe image carries a code across a few probe images; the code of each
encrypted unit, up to reversal, names its source. The result is a complete
`DecryptionMap`, the key in all but name.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from keras_lie.blocks import reversal_parity
from keras_lie.errors import KerasLieError
from keras_lie.keys import BlockShuffleKey, Key, LearnableKey
from keras_lie.security.geometry import UNITS, from_units, units
from keras_lie.security.result import DecryptionMap

CHOSEN_PLAINTEXT_SCHEMES = ("learnable", "block_shuffle")


@dataclasses.dataclass
class ChosenPlaintextRecovery:
    """The outcome of a chosen-plaintext attack."""

    scheme: str
    probe_images: np.ndarray  # the uint8 images the attacker had encrypted
    probe_blocks: int  # designed blocks among them (the rest of an image is padding)
    key: Key


def probe_blocks_needed(scheme: str, block_size: int, channels: int = 3) -> int:
    """How many designed blocks the attack needs for this scheme and block size."""
    d = block_size * block_size * channels
    if scheme == "learnable":
        return 1 + max(0, math.ceil(math.log(2 * d / 8, 16))) if 2 * d > 8 else 1
    if scheme == "block_shuffle":
        return max(1, math.ceil(math.log(d, 256)))
    raise KerasLieError(f"The chosen-plaintext attack is for {', '.join(CHOSEN_PLAINTEXT_SCHEMES)}, not {scheme!r}.")


def probe_images(scheme: str, block_size: int, channels: int = 3, image_shape: tuple[int, int] | None = None) -> np.ndarray:
    """The designed probe: one uint8 image (1, H, W, C) whose first blocks carry the digits.

    `image_shape` (H, W) defaults to one row of the needed blocks; a larger image
    (the size a camera or service takes) is padded with zeros after them.
    """
    m, c = block_size, channels
    d = m * m * c
    count = probe_blocks_needed(scheme, m, c)
    if scheme == "learnable":
        index = np.arange(2 * d)
        digits = np.stack([(index // 16**b) % 16 for b in range(count)])  # (blocks, 2d) nibbles
        blocks = (digits[:, d:] << 4) | digits[:, :d]  # upper nibbles are positions d..2d-1
    else:
        index = np.arange(d)
        blocks = np.stack([(index // 256**b) % 256 for b in range(count)])
    height, width = image_shape or (m, m * count)
    if height % m or width % m or (height // m) * (width // m) < count:
        raise KerasLieError(f"A {height} x {width} probe image cannot hold {count} blocks of {m} x {m}.")
    image = np.zeros((height // m, width // m, d), np.uint8)
    image.reshape(-1, d)[:count] = blocks
    image = image.reshape(height // m, width // m, m, m, c).transpose(0, 2, 1, 3, 4).reshape(height, width, c)
    return image[None]


def recover_key_chosen_plaintext(encrypt: Callable[[np.ndarray], np.ndarray], scheme: str, block_size: int,
                                 channels: int = 3, image_shape: tuple[int, int] | None = None) -> ChosenPlaintextRecovery:
    """Recover the whole key with one designed probe image.

    Args:
        encrypt: the oracle: uint8 images (N, H, W, C) in, their encryption out
            (for example `keras_lie.get_scheme(key).encrypt`).
        scheme, block_size, channels: what the attacker knows of the encryption.
        image_shape: the (H, W) the oracle accepts, if it insists on one.

    Raises:
        KerasLieError: the oracle's answers are not those of `scheme` at this block size.
    """
    probe = probe_images(scheme, block_size, channels, image_shape)
    encrypted = np.asarray(encrypt(probe))
    m, c = block_size, channels
    d = m * m * c
    count = probe_blocks_needed(scheme, m, c)
    height, width = probe.shape[1:3]
    blocks = encrypted.reshape(height // m, m, width // m, m, c).transpose(0, 2, 1, 3, 4).reshape(-1, d)[:count]
    blocks = blocks.astype(np.int64)
    try:
        if scheme == "learnable":
            nibbles = np.concatenate([blocks & 15, blocks >> 4], axis=1)  # (blocks, 2d)
            reversed_ = nibbles[-1] >= 8  # the last digit is below 8 unless reversed
            digits = np.where(reversed_, 15 - nibbles, nibbles)
            source = sum(digits[b] * 16**b for b in range(count))
            key = LearnableKey(m, c, source)
            if not np.array_equal(reversal_parity(source, key.reversal_mask), reversed_):
                raise KerasLieError("the observed reversals do not fit the scheme")
        else:
            source = sum(blocks[b] * 256**b for b in range(count))
            key = BlockShuffleKey(m, c, source)
    except KerasLieError as error:
        raise KerasLieError(
            f"The oracle's output is not {scheme!r} encryption with {m} x {m} blocks of {c} channels ({error}); "
            "check the scheme and block size."
        ) from None
    return ChosenPlaintextRecovery(scheme, probe, count, key)


def recover_map_chosen_plaintext(encrypt, scheme: str, image_shape) -> tuple[DecryptionMap, np.ndarray]:
    """The decryption map of an ELE or EtC key from a few chosen images; returns it and the probes.

    Every unit gets a distinct code, one digit per probe image, whose first digit
    is below half the unit's range, so that a code and its reversal never
    collide: a 32x32 RGB image takes 4 probes for ELE (6,144 nibbles in base 16)
    and 2 for EtC (3,072 bytes in base 256).
    """
    unit = UNITS[scheme]
    height, width, channels = image_shape
    count = height * width * channels * (2 if unit == "nibble" else 1)
    base = 16 if unit == "nibble" else 256
    digits = 1
    while (base // 2) * base ** (digits - 1) < count:
        digits += 1
    codes = np.arange(count)
    probe_units = np.stack([(codes // base**k) % base for k in range(digits)][::-1])  # first digit < base / 2
    probes = from_units(probe_units, unit, (digits, height, width, channels))
    encrypted_units = units(np.asarray(encrypt(probes)), unit)
    reversed_ = encrypted_units[0] >= base // 2
    digits_seen = np.where(reversed_, base - 1 - encrypted_units, encrypted_units)
    seen = np.zeros(count, np.int64)
    for k in range(digits):
        seen = seen * base + digits_seen[k]
    return DecryptionMap(unit, tuple(image_shape), seen, reversed_), probes
