"""The adaptation network of the authors' published code, as a fidelity baseline."""

from __future__ import annotations

import keras

from keras_lie.blocks import PAPER_BLOCK_SIZE
from keras_lie.layers import DepthToSpace
from keras_lie.models.channel_padding import ChannelPadding
from keras_lie.models.replicate_padding import ReplicatePadding2D


def tanaka_network(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    block_size: int = PAPER_BLOCK_SIZE,
    classifier_activation: str | None = "softmax",
    name: str = "tanaka_network",
) -> keras.Model:
    """The network of Tanaka (2018)'s code: a block stem and a small residual network.

    Stem: BN, M x M stride-M conv to 48, ReLU; BN, 1x1 conv 48, ReLU; BN, 1x1 conv
    to 32*M*M, depth-to-space M (32 channels at full resolution). Then three
    stages of two residual units (32 -> 64 -> 128 -> 256 channels; shortcuts
    widen by zero padding; 2x2 max pooling between stages; 3x3 convolutions with
    replicate padding; dropout 0.25 in the residual branch), dropout 0.5, 1x1
    conv 512 with ReLU, dropout 0.5, 1x1 conv to the classes, global average
    pooling, softmax.

    Input shape: `input_shape`, values 0..255 (scaled inside). Output: `(N, num_classes)`.
    """
    m = block_size
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 255, name="scale")(inputs)
    x = keras.layers.BatchNormalization(name="stem_bn1")(x)
    x = keras.layers.Conv2D(48, m, strides=m, activation="relu", name="stem_block_conv")(x)
    x = keras.layers.BatchNormalization(name="stem_bn2")(x)
    x = keras.layers.Conv2D(48, 1, activation="relu", name="stem_nin")(x)
    x = keras.layers.BatchNormalization(name="stem_bn3")(x)
    x = keras.layers.Conv2D(32 * m * m, 1, name="stem_expand")(x)
    x = DepthToSpace(m, name="stem_depth_to_space")(x)
    for stage, width in enumerate((64, 128, 256)):
        if stage:
            x = keras.layers.MaxPooling2D(2, name=f"stage{stage + 1}_pool")(x)
        for unit in range(2):
            prefix = f"stage{stage + 1}_unit{unit + 1}"
            y = keras.layers.BatchNormalization(name=f"{prefix}_bn1")(x)
            y = keras.layers.Activation("relu", name=f"{prefix}_relu1")(y)
            y = ReplicatePadding2D(1, name=f"{prefix}_pad1")(y)
            y = keras.layers.Conv2D(width, 3, name=f"{prefix}_conv1")(y)
            y = keras.layers.BatchNormalization(name=f"{prefix}_bn2")(y)
            y = keras.layers.Activation("relu", name=f"{prefix}_relu2")(y)
            y = keras.layers.Dropout(0.25, name=f"{prefix}_dropout")(y)
            y = ReplicatePadding2D(1, name=f"{prefix}_pad2")(y)
            y = keras.layers.Conv2D(width, 3, name=f"{prefix}_conv2")(y)
            shortcut = ChannelPadding(width, name=f"{prefix}_shortcut")(x)
            x = keras.layers.Add(name=f"{prefix}_add")([shortcut, y])
    x = keras.layers.Dropout(0.5, name="head_dropout1")(x)
    x = keras.layers.Conv2D(512, 1, activation="relu", name="head_conv")(x)
    x = keras.layers.Dropout(0.5, name="head_dropout2")(x)
    x = keras.layers.Conv2D(num_classes, 1, name="head_classes")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Activation(classifier_activation or "linear", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
