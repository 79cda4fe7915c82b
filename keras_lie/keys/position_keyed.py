"""Keys with their own material for every block position of one image size: the ELE and EtC schemes."""

from __future__ import annotations

import os
import secrets
from typing import Any

import numpy as np

from keras_lie.blocks import PAPER_BLOCK_SIZE, nibbles_per_block, reversal_mask
from keras_lie.errors import KeyFileError, KeyMismatchError
from keras_lie.keys.base import Key, _mark_seeded
from keras_lie.keys.reference import ele_key_from_reference_npz, etc_key_from_reference_npz
from keras_lie.keys.validation import (
    MAX_BLOCK_SIZE,
    MAX_CHANNELS,
    MAX_KEY_ENTRIES,
    _bounded_int,
    _image_size,
    _required_image_size,
    _validated_codes,
    _validated_permutation,
    _validated_permutations,
)


class _PositionKeyedKey(Key):
    """A key with its own material for every block position of one image size, then a block location shuffle.

    The schemes of Madono et al. (ELE) and of Kurihara, Chuman and Kiya (EtC)
    transform the block at plain position `s` with key row `s`, then move it:
    ciphertext block `b` is the transformed plain block `block_permutation[b]`.
    Blocks are numbered in raster order. The key fits one image size only.
    """

    default_block_size = PAPER_BLOCK_SIZE
    fits_one_image_size = True

    def __init__(self, block_size: int, channels: int, image_size, block_permutation, *,
                 created: str | None = None):
        super().__init__(block_size, channels, created=created)
        self.image_size = self._check_entries(self.block_size, self.channels, image_size)
        self.block_permutation = _validated_permutation(block_permutation, self.blocks, self.scheme)

    @property
    def grid(self) -> tuple[int, int]:
        """Block rows and columns (H/M, W/M) of the images the key is for."""
        return self.image_size[0] // self.block_size, self.image_size[1] // self.block_size

    @property
    def blocks(self) -> int:
        return self.grid[0] * self.grid[1]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "image_size": list(self.image_size)}

    @classmethod
    def _check_entries(cls, block_size: int, channels: int, image_size) -> tuple[int, int]:
        height, width = _image_size(image_size, block_size)
        entries = (height // block_size) * (width // block_size) * cls.entries_per_block(block_size, channels)
        if entries > MAX_KEY_ENTRIES:
            raise KeyMismatchError(
                f"A {cls.scheme} key for {height}x{width} images in blocks of {block_size} would hold "
                f"{entries:,} values, more than a key file holds ({MAX_KEY_ENTRIES:,}); use larger blocks "
                "or smaller images."
            )
        return height, width

    @classmethod
    def entries_per_block(cls, block_size: int, channels: int) -> int:
        raise NotImplementedError

    @classmethod
    def generate(cls, block_size: int | None = None, channels: int = 3, seed: int | None = None, *,
                 image_size=None):
        """A new key for `image_size` (H, W) images; from the OS CSPRNG, or from `seed` (experiments only)."""
        block_size = _bounded_int(cls.default_block_size if block_size is None else block_size, "block_size",
                                  MAX_BLOCK_SIZE)
        channels = _bounded_int(channels, "channels", MAX_CHANNELS)
        size = cls._check_entries(block_size, channels, _required_image_size(cls.scheme, image_size))
        key = cls._draw(block_size, channels, size, (size[0] // block_size) * (size[1] // block_size), _Draws(seed))
        return _mark_seeded(key) if seed is not None else key

    @classmethod
    def _draw(cls, block_size: int, channels: int, image_size: tuple[int, int], blocks: int, draw: _Draws):
        """A key of this scheme with its material drawn from `draw`."""
        raise NotImplementedError


class _Draws:
    """Uniform draws for key generation: from the OS CSPRNG, or from a seeded generator (experiments)."""

    def __init__(self, seed: int | None):
        self._generator = None if seed is None else np.random.Generator(np.random.PCG64(int(seed)))

    def _words(self, shape: tuple[int, ...]) -> np.ndarray:
        count = int(np.prod(shape))
        if self._generator is None:
            return np.frombuffer(secrets.token_bytes(8 * count), dtype=np.uint64).reshape(shape)
        return self._generator.integers(0, 2**64, size=shape, dtype=np.uint64)

    def permutations(self, count: int, length: int) -> np.ndarray:
        """`count` independent uniform permutations of 0..length-1: the order of random 64-bit sort keys."""
        while True:
            words = self._words((count, length))
            ordered = np.sort(words, axis=1)
            if not (ordered[:, 1:] == ordered[:, :-1]).any():  # a tie would bias the order: draw again
                return np.argsort(words, axis=1).astype(np.int64)

    def integers(self, count: int, bound: int) -> np.ndarray:
        """`count` integers in 0..bound-1; `bound` is a power of two, so a 64-bit word's low bits are uniform."""
        return (self._words((count,)) % np.uint64(bound)).astype(np.int64)


class ELEKey(_PositionKeyedKey):
    """Key of the extended learnable encryption (ELE; Madono et al., AAAI-20 workshop, arXiv:2001.07761).

    Every block position `s` has its own learnable-encryption key: a permutation
    `nibble_keys[s]` of the 2*M*M*C nibbles of a block, with the reversal mask
    derived as in Tanaka's code (`nibble_keys[s] > M*M*C`, strictly). The blocks
    are then shuffled by `block_permutation`.
    """

    scheme = "ele"
    aliases = ("extended_learnable",)
    material_fields = ("image_size", "nibble_keys", "block_permutation")

    def __init__(self, block_size: int, channels: int, image_size, nibble_keys, block_permutation, *,
                 created: str | None = None):
        super().__init__(block_size, channels, image_size, block_permutation, created=created)
        length = self.entries_per_block(self.block_size, self.channels)
        rows = np.asarray(nibble_keys)
        if rows.ndim != 2 or rows.shape[0] != self.blocks:
            raise KeyFileError(
                f"An ele key for {self.image_size[0]}x{self.image_size[1]} images in blocks of {self.block_size} "
                f"needs {self.blocks} nibble keys (one per block position), got shape {rows.shape}."
            )
        self.nibble_keys = _validated_permutations(rows, length, self.scheme)

    @classmethod
    def entries_per_block(cls, block_size: int, channels: int) -> int:
        return nibbles_per_block(block_size, channels)

    @property
    def reversal_masks(self) -> np.ndarray:
        """(blocks, 2*M*M*C) booleans: the nibble positions each block's key reverses."""
        return reversal_mask(self.nibble_keys)

    @classmethod
    def _draw(cls, block_size, channels, image_size, blocks, draw) -> ELEKey:
        return cls(block_size, channels, image_size, draw.permutations(blocks, cls.entries_per_block(block_size, channels)),
                   draw.permutations(1, blocks)[0])

    @classmethod
    def from_reference_npz(cls, path: str | os.PathLike) -> ELEKey:
        """Import a key in the format of the reference implementation's key files (`ele_key_m4.npz`).

        Arrays `block_size`, `image_size`, `grid`, `nibble_key` (blocks, 6*M*M) and
        `block_perm` (blocks,); `nibble_reverse`, if present, must equal the mask
        derived from `nibble_key`. Read with `allow_pickle=False`, sizes checked
        before any array is decompressed.
        """
        return ele_key_from_reference_npz(cls, path)


class EtCKey(_PositionKeyedKey):
    """Key of the block scrambling of encryption-then-compression (EtC; Kurihara, Chuman, Kiya).

    Per block position `s`, in this order: `rotations[s]` counter-clockwise
    quarter turns; negative-positive `x -> 255 - x` where `negative[s]`; a mirror
    (rows reversed where `flip_vertical[s]`, columns where `flip_horizontal[s]`;
    never both); output channel `c` taken from input channel `channel_sources[s, c]`.
    Then the blocks are shuffled by `block_permutation`.

    `colour_shuffle="permute"` (the default) requires every `channel_sources` row to
    be a permutation, so the scheme is invertible. `"reference_code"` reproduces the
    reference code's in-place colour assignment, which copies channels over each
    other (its rows need not be permutations): images encrypted with it cannot be
    decrypted, and `decrypt` refuses.

    `generate` gives each block one of the 8 symmetries of the square uniformly
    (a rotation and a horizontal mirror or none), a negative-positive transform
    with probability 1/2 and a uniform channel permutation. (The reference code
    draws rotation and mirror separately, which weights the 8 symmetries
    unequally, and negates exactly half the blocks; its keys import with
    `from_reference_npz`.)
    """

    scheme = "etc"
    aliases = ("encryption_then_compression",)
    COLOUR_SHUFFLES = ("permute", "reference_code")
    material_fields = ("image_size", "rotations", "negative", "flip_vertical", "flip_horizontal", "channel_sources",
                       "colour_shuffle", "block_permutation")

    def __init__(self, block_size: int, channels: int, image_size, *, rotations, negative, flip_vertical,
                 flip_horizontal, channel_sources, block_permutation, colour_shuffle: str = "permute",
                 created: str | None = None):
        super().__init__(block_size, channels, image_size, block_permutation, created=created)
        if colour_shuffle not in self.COLOUR_SHUFFLES:
            raise KeyFileError(f"colour_shuffle must be one of {', '.join(self.COLOUR_SHUFFLES)}, not {colour_shuffle!r}.")
        self.colour_shuffle = colour_shuffle
        self.rotations = _validated_codes(rotations, self.blocks, 4, "rotations")
        self.negative = _validated_codes(negative, self.blocks, 2, "negative").astype(bool)
        self.flip_vertical = _validated_codes(flip_vertical, self.blocks, 2, "flip_vertical").astype(bool)
        self.flip_horizontal = _validated_codes(flip_horizontal, self.blocks, 2, "flip_horizontal").astype(bool)
        if (self.flip_vertical & self.flip_horizontal).any():
            raise KeyFileError("An etc key mirrors a block one way at most: flip_vertical and flip_horizontal "
                               "are both set for some block.")
        self.channel_sources = self._checked_channel_sources(channel_sources)
        for array in (self.negative, self.flip_vertical, self.flip_horizontal):
            array.setflags(write=False)

    def _checked_channel_sources(self, channel_sources) -> np.ndarray:
        """One row of channel indices per block: permutations, unless the colour shuffle is the reference code's."""
        sources = np.asarray(channel_sources)
        if sources.shape != (self.blocks, self.channels) or (sources.size and sources.dtype.kind not in "iu"):
            raise KeyFileError(f"channel_sources must be {self.blocks} rows of {self.channels} channel indices, "
                               f"got shape {sources.shape}.")
        if self.colour_shuffle == "permute":
            return _validated_permutations(sources, self.channels, self.scheme)
        return _validated_codes(sources, sources.shape, self.channels, "channel_sources")

    @property
    def invertible(self) -> bool:
        return self.colour_shuffle == "permute"

    @classmethod
    def entries_per_block(cls, block_size: int, channels: int) -> int:
        return 5 + channels

    @classmethod
    def _draw(cls, block_size, channels, image_size, blocks, draw) -> EtCKey:
        return cls(block_size, channels, image_size, rotations=draw.integers(blocks, 4),
                   negative=draw.integers(blocks, 2), flip_vertical=np.zeros(blocks, np.int64),
                   flip_horizontal=draw.integers(blocks, 2), channel_sources=draw.permutations(blocks, channels),
                   block_permutation=draw.permutations(1, blocks)[0])

    @classmethod
    def from_reference_npz(cls, path: str | os.PathLike, *, colour_shuffle: str = "permute") -> EtCKey:
        """Import a key in the format of the reference implementation's key files (`etc_key_m4.npz`).

        `colour_shuffle="permute"` takes `channel_perm` (invertible);
        `"reference_code"` takes `channel_src_paper_code`, the reference code's
        non-invertible colour mapping (the one behind the published EtC figures).
        """
        return etc_key_from_reference_npz(cls, path, colour_shuffle=colour_shuffle)
