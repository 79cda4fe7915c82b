"""The `PositionwiseDense` layer: a dense map of its own for every token position."""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_lie")
class PositionwiseDense(keras.layers.Layer):
    """`y[:, p] = x[:, p] @ kernel[p] + bias[p]`: one linear map per token position, nothing shared.

    The block embedding for schemes that transform every block position with
    its own key (ELE, EtC): a map shared across positions cannot undo a
    different permutation at each one, a map per position can. The per-position
    bias is the learned position embedding. Weights are drawn i.i.d. and
    sign-symmetric (Glorot-uniform per position), so a fixed signed permutation
    of a position's inputs, or of the positions, leaves their distribution as it is.

    Input shape: `(N, P, F)`. Output shape: `(N, P, units)`.

    Example:

    >>> PositionwiseDense(16)(np.zeros((2, 64, 96))).shape
    TensorShape([2, 64, 16])
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        positions, features = input_shape[-2], input_shape[-1]
        if positions is None:
            raise ValueError("PositionwiseDense needs a known number of positions (fixed image size).")
        limit = math.sqrt(6.0 / (features + self.units))
        self.kernel = self.add_weight(name="kernel", shape=(positions, features, self.units),
                                      initializer=keras.initializers.RandomUniform(-limit, limit))
        self.bias = self.add_weight(name="bias", shape=(positions, self.units), initializer="zeros")

    def call(self, inputs):
        return ops.einsum("npf,pfu->npu", inputs, ops.cast(self.kernel, inputs.dtype)) + ops.cast(self.bias,
                                                                                                   inputs.dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
