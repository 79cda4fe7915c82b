"""The `BlockTokens` layer: an image as one token per encryption block."""

from __future__ import annotations

import keras
from keras import ops

from keras_lie.blocks import space_to_depth
from keras_lie.options import INPUT_MODES


@keras.saving.register_keras_serializable(package="keras_lie")
class BlockTokens(keras.layers.Layer):
    """Cuts `(N, H, W, C)` images of byte values into one token per M x M block, scaled to [0, 1].

    A token holds its block's d = M*M*C bytes in (row, column, channel) order,
    divided by 255 ("bytes"), or its 2d nibbles, the d lower then the d upper,
    divided by 15 ("nibbles"): exactly the order in which the block-wise schemes
    index a block, so a scheme's map of a block is a map of token features, and
    a reversal (15 - x or 255 - x) is `1 - u`.

    Input shape: `(N, H, W, C)`, H and W multiples of M. Output shape:
    `(N, (H/M) * (W/M), d or 2d)`, tokens in raster order of the blocks.

    Example:

    >>> BlockTokens(4, input_mode="nibbles")(np.zeros((2, 32, 32, 3))).shape
    TensorShape([2, 64, 96])
    """

    def __init__(self, block_size: int, input_mode: str = "bytes", **kwargs):
        super().__init__(**kwargs)
        if input_mode not in INPUT_MODES:
            raise ValueError(f"input_mode must be one of {INPUT_MODES}, not {input_mode!r}.")
        self.block_size = int(block_size)
        self.input_mode = input_mode

    def call(self, inputs):
        x = space_to_depth(ops.cast(inputs, "float32"), self.block_size)
        x = ops.reshape(x, (-1, x.shape[1] * x.shape[2], x.shape[3]))
        if self.input_mode == "bytes":
            return x / 255.0
        upper = ops.floor(x / 16.0)
        return ops.concatenate([x - 16.0 * upper, upper], axis=-1) / 15.0

    def compute_output_shape(self, input_shape):
        _, height, width, channels = input_shape
        m = self.block_size
        tokens = None if height is None or width is None else (height // m) * (width // m)
        features = m * m * channels * (2 if self.input_mode == "nibbles" else 1)
        return (input_shape[0], tokens, features)

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size, "input_mode": self.input_mode}
