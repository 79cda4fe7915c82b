"""The `ShakeDrop` regularisation layer (Yamada et al., 2018)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_lie")
class ShakeDrop(keras.layers.Layer):
    """Scales a residual branch by a random factor in training, by its mean at inference.

    Training: forward `(b + alpha - b * alpha) * F`, backward `(b + beta - b * beta)`,
    with `b ~ Bernoulli(survival_probability)`, `alpha ~ U[alpha_range]`,
    `beta ~ U[0, 1]`, drawn per sample. Inference: `survival_probability * F`.

    Input shape: the residual branch `(N, H, W, C)`. Output shape: the same.
    """

    def __init__(self, survival_probability: float = 0.5, alpha_range=(-1.0, 1.0), seed=None, **kwargs):
        super().__init__(**kwargs)
        self.survival_probability = float(survival_probability)
        self.alpha_range = tuple(float(v) for v in alpha_range)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training:
            return inputs * ops.cast(self.survival_probability, inputs.dtype)
        shape = (ops.shape(inputs)[0], 1, 1, 1)
        gate = ops.cast(
            keras.random.uniform(shape, seed=self.seed_generator) < self.survival_probability, inputs.dtype
        )
        alpha = ops.cast(keras.random.uniform(shape, *self.alpha_range, seed=self.seed_generator), inputs.dtype)
        beta = ops.cast(keras.random.uniform(shape, 0.0, 1.0, seed=self.seed_generator), inputs.dtype)
        forward = gate + alpha - gate * alpha
        backward = gate + beta - gate * beta
        # Value of forward * F, gradient of backward * F.
        return backward * inputs + ops.stop_gradient((forward - backward) * inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "survival_probability": self.survival_probability,
            "alpha_range": self.alpha_range,
            "seed": self.seed,
        }
