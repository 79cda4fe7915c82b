"""Index maths the attacks share: images as flat units (bytes or nibbles), and the 8 symmetries of the square.

Units: a plaintext attack on a position-keyed scheme follows every byte (EtC, the
cat map) or nibble (ELE) of an image to its place. `units` flattens images to
their units, `from_units` puts them back: bytes in raster order (H*W*C), or
nibbles as the lower nibbles of all bytes, then the upper ones (2*H*W*C).

Symmetries: the block-scrambling schemes turn and mirror blocks, and the
ciphertext-only attacks leave one symmetry of the whole picture open; `orient`
is the one numbering of the 8 symmetries they all use.
"""

from __future__ import annotations

import numpy as np

UNITS = {"ele": "nibble", "etc": "byte", "cat_map": "byte"}  # the cat map moves whole bytes too


def units(images: np.ndarray, unit: str) -> np.ndarray:
    """int64 (N, units): the bytes, or the nibbles (all lower ones, then all upper ones), of each image."""
    flat = np.asarray(images).reshape(len(images), -1).astype(np.int64)
    return np.concatenate([flat & 15, flat >> 4], axis=1) if unit == "nibble" else flat


def from_units(values: np.ndarray, unit: str, shape) -> np.ndarray:
    """uint8 images of `shape` from their units (the inverse of `units`)."""
    values = np.asarray(values, np.int64)
    if unit == "nibble":
        half = values.shape[1] // 2
        values = values[:, half:] * 16 + values[:, :half]
    return values.reshape(shape).astype(np.uint8)


def orient(blocks: np.ndarray, orientation: int) -> np.ndarray:
    """One of the 8 symmetries of the square on the last two axes: o % 4 quarter turns, then a mirror if o >= 4."""
    x = np.rot90(blocks, orientation % 4, axes=(-2, -1))
    return x[..., ::-1] if orientation >= 4 else x
