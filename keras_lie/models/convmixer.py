"""An isotropic ConvMixer-style backbone over the grid of blocks (Trockman & Kolter, 2022)."""

from __future__ import annotations

import keras


def convmixer(
    input_shape,
    num_classes: int = 10,
    dim: int = 128,
    depth: int = 4,
    kernel_size: int = 5,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """ConvMixer layers on a grid of patch embeddings; no upsampling, no downsampling.

    Meant to follow a `BlockStem(upsample=False)`, whose block convolution is the
    patch embedding (patch size M), so the network works on the grid of encryption
    blocks. Each layer: a depthwise `kernel_size` convolution with GELU and batch
    normalisation in a residual connection, then a pointwise convolution with GELU
    and batch normalisation. Then global average pooling and a dense classifier.

    Input shape: `(N, H / M, W / M, C)`. Output: `(N, num_classes)`.
    """
    inputs = keras.Input(input_shape)
    x = inputs
    if input_shape[-1] != dim:
        x = keras.layers.Conv2D(dim, 1, name="project")(x)
        x = keras.layers.Activation("gelu", name="project_gelu")(x)
        x = keras.layers.BatchNormalization(name="project_bn")(x)
    for i in range(depth):
        residual = x
        x = keras.layers.DepthwiseConv2D(kernel_size, padding="same", name=f"mixer{i}_depthwise")(x)
        x = keras.layers.Activation("gelu", name=f"mixer{i}_gelu1")(x)
        x = keras.layers.BatchNormalization(name=f"mixer{i}_bn1")(x)
        x = keras.layers.Add(name=f"mixer{i}_add")([x, residual])
        x = keras.layers.Conv2D(dim, 1, name=f"mixer{i}_pointwise")(x)
        x = keras.layers.Activation("gelu", name=f"mixer{i}_gelu2")(x)
        x = keras.layers.BatchNormalization(name=f"mixer{i}_bn2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation, dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name or f"convmixer{dim}_{depth}")
