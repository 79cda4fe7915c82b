"""Deep pyramidal residual networks (Han, Kim and Kim, CVPR 2017) for CIFAR-sized inputs."""

from __future__ import annotations

import math

import keras

from keras_lie.models.channel_padding import ChannelPadding
from keras_lie.models.shake_drop import ShakeDrop
from keras_lie.models.stochastic_depth import StochasticDepth

REGULARIZATIONS = (None, "shakedrop", "stochastic_depth", "separated_stochastic_depth")


def pyramidnet(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    depth: int = 110,
    alpha: float = 48,
    bottleneck: bool = False,
    regularization: str | None = None,
    final_survival_probability: float = 0.5,
    initial_channels: int = 16,
    width_rounding: str = "floor",
    classifier_activation: str | None = "softmax",
    seed: int | None = None,
    name: str | None = None,
) -> keras.Model:
    """A PyramidNet: widths grow additively by `alpha / units` in every residual unit.

    The CIFAR architecture of the paper: a 3x3 convolution to `initial_channels`,
    three stages of `n` units (n = (depth - 2) / 6 basic, (depth - 2) / 9
    bottleneck), strides 1, 2, 2, then BN-ReLU, global average pooling and a
    dense classifier. Units follow the paper's ordering (basic:
    BN-conv-BN-ReLU-conv-BN; bottleneck: BN-conv1x1-BN-ReLU-conv3x3-BN-ReLU-
    conv1x1-BN), with identity shortcuts that are zero-padded in channels and
    average-pooled when the resolution halves.

    Widths are the floor of the running width (accumulated by repeated addition in
    double precision) by default, which reproduces the
    parameter counts the paper reports (1.7M for depth 110 / alpha 48, 28.3M for
    alpha 270, 26.0M for depth 272 / alpha 200 bottleneck); `width_rounding="round"`
    gives the widths of the later PyTorch code (4% more parameters at alpha 48).

    `regularization` adds ShakeDrop or (separated) stochastic depth to every
    residual branch, with the linear decay rule
    `p_l = 1 - l / L * (1 - final_survival_probability)`.

    Input shape: `input_shape`. Output: `(N, num_classes)` probabilities
    (`classifier_activation="softmax"`) or logits (None).

    Example:

    >>> model = pyramidnet(depth=110, alpha=48)   # 1.7M parameters, as in the paper
    """
    if width_rounding not in ("floor", "round"):
        raise ValueError(f"width_rounding must be 'floor' or 'round', not {width_rounding!r}.")
    if regularization not in REGULARIZATIONS:
        raise ValueError(f"regularization must be one of {REGULARIZATIONS}, not {regularization!r}.")
    per_unit_layers = 9 if bottleneck else 6
    if (depth - 2) % per_unit_layers:
        raise ValueError(
            f"depth must be {per_unit_layers}n + 2 for {'bottleneck' if bottleneck else 'basic'} "
            f"units (e.g. {'272' if bottleneck else '110'}); got {depth}."
        )
    units_per_stage = (depth - 2) // per_unit_layers
    total_units = 3 * units_per_stage
    expansion = 4 if bottleneck else 1
    add_rate = alpha / total_units

    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(initial_channels, 3, padding="same", use_bias=False, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="conv_bn")(x)
    width = float(initial_channels)
    channels = initial_channels
    unit = 0
    for stage in range(3):
        for index in range(units_per_stage):
            unit += 1
            width += add_rate
            # No epsilon on purpose: the floor of the running double-precision sum is what
            # reproduces the paper's parameter counts (e.g. 1.73M, not 1.74M, at alpha 48).
            planes = int(math.floor(width) if width_rounding == "floor" else round(width))
            stride = 2 if stage > 0 and index == 0 else 1
            prefix = f"stage{stage + 1}_unit{index + 1}"
            residual = _residual_branch(x, planes, expansion, stride, bottleneck, prefix)
            survival = 1.0 - unit / total_units * (1.0 - final_survival_probability)
            residual = _regularize(residual, regularization, survival, channels, seed, prefix)
            shortcut = x
            if stride == 2:
                shortcut = keras.layers.AveragePooling2D(2, name=f"{prefix}_pool")(shortcut)
            shortcut = ChannelPadding(planes * expansion, name=f"{prefix}_pad")(shortcut)
            x = keras.layers.Add(name=f"{prefix}_add")([shortcut, residual])
            channels = planes * expansion
    x = keras.layers.BatchNormalization(name="final_bn")(x)
    x = keras.layers.Activation("relu", name="final_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    # float32 outputs keep softmax and the loss stable under mixed precision.
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation, dtype="float32", name="predictions")(x)
    return keras.Model(
        inputs, outputs, name=name or f"pyramidnet{depth}_alpha{alpha:g}{'_bottleneck' if bottleneck else ''}"
    )


def _residual_branch(x, planes, expansion, stride, bottleneck, prefix):
    conv = lambda filters, size, s, n: keras.layers.Conv2D(  # noqa: E731
        filters, size, strides=s, padding="same", use_bias=False, name=f"{prefix}_{n}"
    )
    bn = lambda n: keras.layers.BatchNormalization(name=f"{prefix}_{n}")  # noqa: E731
    relu = lambda n: keras.layers.Activation("relu", name=f"{prefix}_{n}")  # noqa: E731
    y = bn("bn1")(x)
    if bottleneck:
        y = conv(planes, 1, 1, "conv1")(y)
        y = relu("relu1")(bn("bn2")(y))
        y = conv(planes, 3, stride, "conv2")(y)
        y = relu("relu2")(bn("bn3")(y))
        y = conv(planes * expansion, 1, 1, "conv3")(y)
        return bn("bn4")(y)
    y = conv(planes, 3, stride, "conv1")(y)
    y = relu("relu1")(bn("bn2")(y))
    y = conv(planes, 3, 1, "conv2")(y)
    return bn("bn3")(y)


def _regularize(residual, regularization, survival, channels_in, seed, prefix):
    if regularization is None:
        return residual
    if regularization == "shakedrop":
        return ShakeDrop(survival, seed=seed, name=f"{prefix}_shakedrop")(residual)
    separate = channels_in if regularization == "separated_stochastic_depth" else None
    return StochasticDepth(survival, separate_from=separate, seed=seed, name=f"{prefix}_drop")(residual)
