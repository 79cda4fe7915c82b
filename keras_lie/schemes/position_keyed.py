"""The base of the schemes whose key has its own material for every block position (ELE, EtC)."""

from __future__ import annotations

import numpy as np

from keras_lie.errors import ImageShapeError
from keras_lie.schemes.base import Direction, Scheme


class PositionKeyedScheme(Scheme):
    """A block-wise scheme with a key row per block position and a block location shuffle.

    The key fits one image size (`key.image_size`); other sizes are refused.
    Subclasses give `block_maps(direction)`: for every output block, the input
    block it comes from and the maps of `keras_lie.schemes._gather.blockwise_plan`.
    """

    @property
    def fixed_image_size(self) -> tuple[int, int]:
        return self.key.image_size

    def check_spatial_shape(self, height: int, width: int) -> None:
        super().check_spatial_shape(height, width)
        if (height, width) != self.key.image_size:
            key_height, key_width = self.key.image_size
            rows, columns = self.key.grid
            m = self.block_size
            raise ImageShapeError(
                f"This {self.name} key is for {key_height}x{key_width} images (a {rows}x{columns} grid of "
                f"{m}x{m} blocks, each with its own key, and a shuffle of those block positions); these are "
                f"{height}x{width}. Resize or crop them to {key_height}x{key_width}, or make a key for "
                f"{height}x{width} (keras-lie keygen --scheme {self.name} --image-size {height}x{width})."
            )

    def block_sources(self, direction: Direction) -> np.ndarray:
        """For each output block (raster order), the input block it comes from."""
        permutation = self.key.block_permutation
        return permutation if direction == "encrypt" else np.argsort(permutation)

    def rows_for_output(self, table: np.ndarray, direction: Direction) -> np.ndarray:
        """Key rows (indexed by plain block position) ordered by output block.

        Encrypting, output block b holds plain block `block_permutation[b]`;
        decrypting, output block s is plain block s.
        """
        return table[self.key.block_permutation] if direction == "encrypt" else table
