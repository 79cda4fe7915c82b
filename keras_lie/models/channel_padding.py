"""The `ChannelPadding` layer: zero-padded identity shortcuts of pyramidal networks."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_lie")
class ChannelPadding(keras.layers.Layer):
    """Appends zero channels up to `channels` (PyramidNet's widening identity shortcut).

    Input shape: `(N, H, W, C)` with C <= channels. Output shape: `(N, H, W, channels)`.
    """

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)

    def call(self, inputs):
        extra = self.channels - inputs.shape[-1]
        if extra < 0:
            raise ValueError(f"ChannelPadding to {self.channels} got {inputs.shape[-1]} channels.")
        if extra == 0:
            return inputs
        # Concatenated zeros rather than ops.pad: TensorFlow 2.21's oneDNN graph rewrite
        # fuses Conv2D + BiasAdd + Add and crashes (segfault) when the other addend is a Pad.
        zeros = ops.tile(ops.zeros_like(inputs[..., :1]), [1, 1, 1, extra])
        return ops.concatenate([inputs, zeros], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
