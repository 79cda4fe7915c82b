"""The `ReplicatePadding2D` layer (edge padding), as in the authors' network."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_lie")
class ReplicatePadding2D(keras.layers.Layer):
    """Pads height and width by repeating the border rows and columns.

    Input shape: `(N, H, W, C)`. Output shape: `(N, H + 2p, W + 2p, C)`.
    """

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        top, bottom = ops.repeat(inputs[:, :1], p, axis=1), ops.repeat(inputs[:, -1:], p, axis=1)
        x = ops.concatenate([top, inputs, bottom], axis=1)
        left, right = ops.repeat(x[:, :, :1], p, axis=2), ops.repeat(x[:, :, -1:], p, axis=2)
        return ops.concatenate([left, x, right], axis=2)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        grow = 2 * self.padding
        return (n, None if h is None else h + grow, None if w is None else w + grow, c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}
