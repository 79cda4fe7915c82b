"""Keys that are one permutation of the values of a block: the block-wise schemes.

Every M x M block of an image is encrypted with the same key, so these keys fit
any image size (block stems and block augmentation rely on it).
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import numpy as np

from keras_lie.blocks import PAPER_BLOCK_SIZE, nibbles_per_block, reversal_mask
from keras_lie.keys.base import Key, _mark_seeded
from keras_lie.keys.reference import learnable_key_from_reference_pickle
from keras_lie.keys.validation import MAX_BLOCK_SIZE, MAX_CHANNELS, _bounded_int, _validated_permutation


class _PermutationKey(Key):
    """A key whose material is one permutation of `permutation_length()` positions."""

    default_block_size = PAPER_BLOCK_SIZE
    material_fields = ("permutation",)

    def __init__(self, block_size: int, channels: int, permutation, *, created: str | None = None):
        super().__init__(block_size, channels, created=created)
        self.permutation = _validated_permutation(
            permutation, self.permutation_length(self.block_size, self.channels), self.scheme
        )

    @classmethod
    def permutation_length(cls, block_size: int, channels: int) -> int:
        raise NotImplementedError

    @classmethod
    def generate(cls, block_size: int | None = None, channels: int = 3, seed: int | None = None):
        block_size = cls.default_block_size if block_size is None else block_size
        length = cls.permutation_length(
            _bounded_int(block_size, "block_size", MAX_BLOCK_SIZE), _bounded_int(channels, "channels", MAX_CHANNELS)
        )
        if seed is None:
            order = list(range(length))
            secrets.SystemRandom().shuffle(order)
            permutation = np.asarray(order, dtype=np.int64)
            return cls(block_size, channels, permutation)
        permutation = np.random.Generator(np.random.PCG64(int(seed))).permutation(length)
        return _mark_seeded(cls(block_size, channels, permutation))


class BlockShuffleKey(_PermutationKey):
    """Key of the naive block-wise pixel shuffle: a permutation of the M*M*C values of a block."""

    scheme = "block_shuffle"
    aliases = ("naive", "shuffle")

    @classmethod
    def permutation_length(cls, block_size: int, channels: int) -> int:
        return block_size * block_size * channels


class LearnableKey(_PermutationKey):
    """Key of the proposed learnable encryption (Tanaka 2018).

    A permutation `k` of the 2*M*M*C nibbles of a block; the reversal mask is
    derived from it exactly as the authors' code does: `r[i] = k[i] > M*M*C`.
    """

    scheme = "learnable"
    aliases = ("proposed",)

    @classmethod
    def permutation_length(cls, block_size: int, channels: int) -> int:
        return nibbles_per_block(block_size, channels)

    @property
    def reversal_mask(self) -> np.ndarray:
        """Boolean mask of the nibble positions whose intensity is reversed (x -> 15 - x)."""
        return reversal_mask(self.permutation)

    def _derived_fields(self) -> dict[str, Any]:
        return {"reversal_mask": [int(v) for v in self.reversal_mask]}

    @classmethod
    def from_reference_pickle(cls, path: str | os.PathLike) -> LearnableKey:
        """Import a key saved by the authors' published code.

        The file is a pickle of `[[M, M, C], key]`, with `key` a numpy array holding
        a permutation of 0..2*M*M*C-1. Pickles are untrusted input: the file is read
        with an unpickler that admits only what rebuilding a numpy array needs, so a
        crafted file naming any other global is refused before anything runs.
        """
        return learnable_key_from_reference_pickle(cls, path)
