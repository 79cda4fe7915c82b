"""The `StochasticDepth` layer, with PyramidNet's separated variant (Yamada et al., 2016)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_lie")
class StochasticDepth(keras.layers.Layer):
    """Drops a residual branch per sample in training; scales it by its survival rate at inference.

    With `separate_from=c` (separated stochastic depth), the branch's first `c`
    channels (those added to the identity shortcut) and its remaining channels
    (those added to the shortcut's zero padding) are dropped independently.

    Input shape: the residual branch `(N, H, W, C)`. Output shape: the same.
    """

    def __init__(self, survival_probability: float = 0.5, separate_from: int | None = None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.survival_probability = float(survival_probability)
        self.separate_from = None if separate_from is None else int(separate_from)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        p = self.survival_probability
        if not training:
            return inputs * ops.cast(p, inputs.dtype)
        n = ops.shape(inputs)[0]
        channels = inputs.shape[-1]
        split = self.separate_from
        if split is None or split >= channels:
            keep = keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator) < p
            return inputs * ops.cast(keep, inputs.dtype)
        keep_old = keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator) < p
        keep_new = keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator) < p
        mask = ops.concatenate(
            [ops.broadcast_to(keep_old, (n, 1, 1, split)), ops.broadcast_to(keep_new, (n, 1, 1, channels - split))],
            axis=-1,
        )
        return inputs * ops.cast(mask, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "survival_probability": self.survival_probability,
            "separate_from": self.separate_from,
            "seed": self.seed,
        }
