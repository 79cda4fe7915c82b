"""Limits on the size of a key, and the checks a key's material passes before the key exists.

Every key class validates what it is given here, whether the values come from
a generator, a key file or a reference file: a key object is always well formed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_lie.errors import KeyFileError, KeyMismatchError

MAX_BLOCK_SIZE = 64  # a learnable key of 64 x 64 x 4 blocks has 32,768 entries
MAX_CHANNELS = 4
# Values in a position-keyed key (ELE, EtC). An ELE key holds two per image byte, so this
# admits 480 x 640 RGB frames (1.8 million values, 14 MB of JSON).
MAX_KEY_ENTRIES = 2_097_152
MAX_IMAGE_SIDE = 16384


def _bounded_int(value: Any, name: str, maximum: int) -> int:
    value = _positive_int(value, name)
    if value > maximum:
        raise KeyMismatchError(
            f"{name} must be at most {maximum}, not {value}; larger blocks give keys of millions of entries "
            "and hide nothing more (every block still shares one key)."
        )
    return value


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise KeyMismatchError(f"{name} must be a positive integer, not {value!r}.")
    return int(value)


def _validated_permutation(values: Any, length: int, scheme: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise KeyFileError(f"The {scheme} permutation must be a 1-D list of integers.")
    if array.size != length:
        raise KeyFileError(
            f"The {scheme} permutation has {array.size} entries; block size and channels "
            f"call for {length}."
        )
    array = array.astype(np.int64)
    if not np.array_equal(np.sort(array), np.arange(length)):
        raise KeyFileError(
            f"The {scheme} key is not a permutation of 0..{length - 1} (values repeat or are "
            "out of range)."
        )
    array.setflags(write=False)
    return array


def _validated_permutations(rows: Any, length: int, scheme: str) -> np.ndarray:
    """Rows that are each a permutation of 0..length-1, as a read-only int64 array."""
    array = np.asarray(rows)
    if array.ndim != 2 or array.shape[1] != length or (array.size and array.dtype.kind not in "iu"):
        raise KeyFileError(f"The {scheme} key needs rows of {length} integers, got an array of shape {array.shape}.")
    array = array.astype(np.int64)
    if not (np.sort(array, axis=1) == np.arange(length)).all():
        bad = int(np.flatnonzero(~(np.sort(array, axis=1) == np.arange(length)).all(axis=1))[0])
        raise KeyFileError(f"Row {bad} of the {scheme} key is not a permutation of 0..{length - 1}.")
    array.setflags(write=False)
    return array


def _validated_codes(values: Any, shape, bound: int, name: str) -> np.ndarray:
    """Integers (or booleans) in 0..bound-1 of the given shape (or length), as a read-only int64 array."""
    array = np.asarray(values)
    expected = (shape,) if isinstance(shape, int) else tuple(shape)
    if array.shape != expected or (array.size and array.dtype.kind not in "iub"):
        raise KeyFileError(f"{name} must be {expected} integers, got an array of shape {array.shape}.")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= bound):
        raise KeyFileError(f"{name} values must lie in 0..{bound - 1}.")
    array.setflags(write=False)
    return array


def _image_size(value: Any, block_size: int) -> tuple[int, int]:
    """(H, W) of a position-keyed key, checked: two positive integers, multiples of the block size."""
    if isinstance(value, str) or not isinstance(value, (list, tuple, np.ndarray)) or len(value) != 2:
        raise KeyMismatchError(f"image_size must be (height, width), not {value!r}.")
    height, width = (_positive_int(side, "image_size") for side in value)
    if max(height, width) > MAX_IMAGE_SIDE:
        raise KeyMismatchError(f"image_size {height}x{width} has a side over {MAX_IMAGE_SIDE}.")
    if height % block_size or width % block_size:
        raise KeyMismatchError(
            f"image_size {height}x{width} is not a whole number of {block_size}x{block_size} blocks; "
            f"use sides that are multiples of {block_size}."
        )
    return height, width


def _required_image_size(scheme: str, image_size: Any) -> Any:
    if image_size is None:
        raise KeyMismatchError(
            f"An {scheme} key has its own material for every block position, so it is made for one image "
            f"size: pass image_size=(height, width) (keras-lie keygen --scheme {scheme} --image-size HxW)."
        )
    return image_size
