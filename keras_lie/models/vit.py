"""A block-token vision transformer: patch = encryption block, for schemes keyed per block position."""

from __future__ import annotations

import keras

from keras_lie.blocks import PAPER_BLOCK_SIZE
from keras_lie.layers import BlockTokens, PositionwiseDense


def vit(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    *,
    block_size: int = PAPER_BLOCK_SIZE,
    input_mode: str = "bytes",
    shared_embedding: bool = False,
    dim: int = 128,
    depth: int = 4,
    heads: int = 4,
    mlp_ratio: int = 2,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """A ViT whose patches are the encryption's M x M blocks.

    `shared_embedding=False` (for ELE and EtC, whose every block position has
    its own key and whose blocks are moved by a fixed shuffle): every position
    gets its own batch normalisation of each token feature ("block_norm") and
    its own linear embedding with its own bias, the learned position embedding
    ("block_embedding", a `PositionwiseDense`). With i.i.d. sign-symmetric
    initial weights, such a model sees ELE/EtC images, plain images and LE
    images identically in distribution, and `convert_key` moves a trained model
    exactly between keys: per-position maps absorb each position's key, and
    the transformer, without position-dependent parts after the embedding and
    with mean pooling, does not mind the block shuffle's new token order.

    `shared_embedding=True` is the setting of Kiya's group for block-wise
    encryption with one key for all blocks (LE, naive shuffle): one
    normalisation and one linear embedding for every block, and a learned
    position embedding added.

    Then `depth` pre-norm transformer layers (multi-head self-attention, MLP of
    `mlp_ratio * dim` with GELU), layer normalisation, mean pooling over tokens
    and a dense classifier.

    Input shape: `(N, H, W, C)` byte values, H and W multiples of `block_size`
    (fixed: the per-position parts need the number of blocks). Output:
    `(N, num_classes)`.

    Example:

    >>> model = vit((32, 32, 3), 10, block_size=4, input_mode="nibbles")  # for ELE
    """
    inputs = keras.Input(input_shape, name="images")
    tokens = BlockTokens(block_size, input_mode=input_mode, name="block_tokens")(inputs)
    positions, features = tokens.shape[1], tokens.shape[2]
    if shared_embedding:
        x = keras.layers.BatchNormalization(name="block_norm")(tokens)
        x = keras.layers.Dense(dim, name="block_embedding")(x)
        x = _PositionEmbedding(name="position_embedding")(x)
    else:
        x = keras.layers.Reshape((positions * features,), name="flatten_tokens")(tokens)
        x = keras.layers.BatchNormalization(name="block_norm")(x)  # per position and feature
        x = keras.layers.Reshape((positions, features), name="unflatten_tokens")(x)
        x = PositionwiseDense(dim, name="block_embedding")(x)
    for i in range(depth):
        y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"layer{i}_norm1")(x)
        y = keras.layers.MultiHeadAttention(heads, dim // heads, name=f"layer{i}_attention")(y, y)
        x = keras.layers.Add(name=f"layer{i}_add1")([x, y])
        y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"layer{i}_norm2")(x)
        y = keras.layers.Dense(mlp_ratio * dim, activation="gelu", name=f"layer{i}_mlp1")(y)
        y = keras.layers.Dense(dim, name=f"layer{i}_mlp2")(y)
        x = keras.layers.Add(name=f"layer{i}_add2")([x, y])
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation, dtype="float32", name="predictions")(x)
    kind = "shared" if shared_embedding else "positionwise"
    return keras.Model(inputs, outputs, name=name or f"vit_{kind}_{input_mode}_{dim}x{depth}")


@keras.saving.register_keras_serializable(package="keras_lie")
class _PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding per token position. Input and output shape: `(N, P, D)`."""

    def build(self, input_shape):
        self.embedding = self.add_weight(name="embedding", shape=tuple(input_shape[1:]),
                                         initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, inputs):
        return inputs + keras.ops.cast(self.embedding, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape
