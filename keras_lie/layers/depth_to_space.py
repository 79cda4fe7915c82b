"""The `DepthToSpace` (sub-pixel upsampling) layer."""

from __future__ import annotations

import keras

from keras_lie.blocks import depth_to_space


@keras.saving.register_keras_serializable(package="keras_lie")
class DepthToSpace(keras.layers.Layer):
    """Rearranges blocks of channels into M x M spatial blocks (sub-pixel upsampling).

    Input shape: `(N, H, W, C * M * M)`. Output shape: `(N, H * M, W * M, C)`.
    Channel order follows `tf.nn.depth_to_space` (row, column, channel).

    Example:

    >>> DepthToSpace(4)(np.zeros((1, 8, 8, 512), "float32")).shape
    TensorShape([1, 32, 32, 32])
    """

    def __init__(self, block_size: int, **kwargs):
        super().__init__(**kwargs)
        self.block_size = int(block_size)

    def call(self, inputs):
        return depth_to_space(inputs, self.block_size)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        m = self.block_size
        return (n, None if h is None else h * m, None if w is None else w * m, c // (m * m))

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}
