"""The `BlockStem` layer: the paper's adaptation network for block-wise encrypted images."""

from __future__ import annotations

import keras
from keras import ops

from keras_lie.blocks import PAPER_BLOCK_SIZE, depth_to_space, space_to_depth, split_nibbles
from keras_lie.options import INPUT_MODES

NORMALIZATIONS = ("batch", "layer", None)


@keras.saving.register_keras_serializable(package="keras_lie")
class BlockStem(keras.layers.Layer):
    """M x M stride-M convolution, a network-in-network stack, and depth-to-space by M.

    The adaptation network of Tanaka (2018) for block-wise encrypted images: the
    first convolution sees exactly one block per output position, the 1x1 (NiN)
    convolutions mix features within a block, and sub-pixel upsampling returns
    to the input resolution so that any network can follow.

    With `input_mode="nibbles"` the layer splits every byte into its lower and
    upper 4 bits (2C channels, scaled by 1/15) before the first convolution.
    The proposed encryption is then an affine map (a permutation with some
    entries replaced by 15 - x) of each block's inputs, which the first
    convolution can undo exactly; this is what `keras_lie.models.convert_key`
    uses, and why no normalisation comes before that convolution. With
    `input_mode="bytes"` (the paper) the input is scaled by 1/255.

    With `input_normalization=True` (the key-equivariant stem) each of the
    M*M*C' inputs of a block is batch-normalised separately before the first
    convolution. Per-feature normalisation commutes with a permutation of the
    features and turns a reversal 15 - x into a sign flip, and the first
    convolution's default initialiser is i.i.d. and sign-symmetric, so the stem
    sees encrypted and plain nibbles identically in distribution: training on
    images encrypted with the proposed scheme is, in distribution, training on
    plain nibbles. `convert_key` permutes and sign-flips this normalisation too.

    With `upsample=False` the layer stops after the NiN stack and returns the
    grid of block embeddings, for isotropic backbones (`keras_lie.models.convmixer`).

    Input shape: `(N, H, W, C)`, values 0..255 (any real dtype), H and W multiples of M.
    Output shape: `(N, H, W, output_channels)`; with `upsample=False`,
    `(N, H / M, W / M, nin_filters)` (or `filters` without NiN layers).

    Args:
        block_size: M, the block side of the encryption.
        filters: channels of the M x M convolution.
        nin_depth: number of 1x1 convolution layers after it.
        nin_filters: their channels (default: `filters`).
        output_channels: channels after depth-to-space.
        activation: activation after the block convolution and each NiN layer.
        normalization: "batch", "layer" or None, after each of those convolutions.
        input_mode: "bytes" or "nibbles".
        input_normalization: batch-normalise every block input separately first.
        upsample: end with the 1x1 expansion and depth-to-space (default) or not.
        kernel_initializer: of the first convolution (keep it sign-symmetric for
            the key-equivariant stem).

    Example:

    >>> stem = BlockStem(block_size=4, filters=48, nin_depth=1, output_channels=32)
    >>> stem(np.zeros((2, 32, 32, 3), "float32")).shape
    TensorShape([2, 32, 32, 32])
    """

    def __init__(
        self,
        block_size: int = PAPER_BLOCK_SIZE,
        filters: int = 48,
        nin_depth: int = 1,
        nin_filters: int | None = None,
        output_channels: int = 32,
        activation: str = "relu",
        normalization: str | None = "batch",
        input_mode: str = "bytes",
        input_normalization: bool = False,
        upsample: bool = True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if input_mode not in INPUT_MODES:
            raise ValueError(f"input_mode must be one of {INPUT_MODES}, not {input_mode!r}.")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, not {normalization!r}.")
        self.block_size = int(block_size)
        self.filters = int(filters)
        self.nin_depth = int(nin_depth)
        self.nin_filters = int(nin_filters) if nin_filters else self.filters
        self.output_channels = int(output_channels)
        self.activation = keras.activations.get(activation)
        self.normalization = normalization
        self.input_mode = input_mode
        self.input_normalization = bool(input_normalization)
        self.upsample = bool(upsample)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        # Sublayers are made here (as Keras' own composite layers do) and built in `build`,
        # when the input's channel count is known.
        self.input_norm = (
            keras.layers.BatchNormalization(dtype=self.dtype_policy, name="input_norm")
            if self.input_normalization else None
        )
        self.block_conv = keras.layers.Conv2D(
            self.filters, self.block_size, strides=self.block_size, padding="valid", dtype=self.dtype_policy,
            kernel_initializer=self.kernel_initializer, name="block_conv",
        )
        self.block_norm = self._norm("block_norm")
        self.nin_convs = [
            keras.layers.Conv2D(self.nin_filters, 1, dtype=self.dtype_policy, name=f"nin_conv_{i}")
            for i in range(self.nin_depth)
        ]
        self.nin_norms = [self._norm(f"nin_norm_{i}") for i in range(self.nin_depth)]
        self.expand = (
            keras.layers.Conv2D(self.output_channels * self.block_size**2, 1, dtype=self.dtype_policy, name="expand")
            if self.upsample else None
        )
        self.input_channels: int | None = None

    @property
    def sublayers(self) -> list[keras.layers.Layer]:
        """The stem's own layers, in the order they apply (what `keras_lie.models.walk_layers` visits)."""
        layers = [self.input_norm, self.block_conv, self.block_norm]
        for conv, norm in zip(self.nin_convs, self.nin_norms, strict=True):
            layers += [conv, norm]
        return [layer for layer in [*layers, self.expand] if layer is not None]

    def _norm(self, name):
        if self.normalization == "batch":
            return keras.layers.BatchNormalization(dtype=self.dtype_policy, name=name)
        if self.normalization == "layer":
            return keras.layers.LayerNormalization(dtype=self.dtype_policy, name=name)
        return None

    def build(self, input_shape):
        height, width, channels = input_shape[1], input_shape[2], input_shape[-1]
        m = self.block_size
        for side in (height, width):
            if side is not None and side % m:
                raise ValueError(
                    f"BlockStem with block size {m} needs sides that are multiples of {m}; "
                    f"got input shape {tuple(input_shape)}."
                )
        self.input_channels = channels
        conv_in = channels * (2 if self.input_mode == "nibbles" else 1)
        if self.input_norm is not None:
            # One normalisation per block input: over the channels of the space-to-depth view.
            self.input_norm.build((None, None, None, m * m * conv_in))
        self.block_conv.build((None, None, None, conv_in))
        if self.block_norm is not None:
            self.block_norm.build((None, None, None, self.filters))
        width_in = self.filters
        for conv, norm in zip(self.nin_convs, self.nin_norms, strict=True):
            conv.build((None, None, None, width_in))
            if norm is not None:
                norm.build((None, None, None, self.nin_filters))
            width_in = self.nin_filters
        if self.expand is not None:
            self.expand.build((None, None, None, width_in))
        self.built = True

    def call(self, inputs, training=None):
        if self.input_mode == "nibbles":
            x = split_nibbles(inputs) / 15.0
        else:
            x = ops.cast(inputs, "float32") / 255.0
        x = ops.cast(x, self.compute_dtype)
        if self.input_norm is not None:
            m = self.block_size
            x = depth_to_space(self.input_norm(space_to_depth(x, m), training=training), m)
        x = self.block_conv(x)
        if self.block_norm is not None:
            x = self.block_norm(x, training=training)
        x = self.activation(x)
        for conv, norm in zip(self.nin_convs, self.nin_norms, strict=True):
            x = conv(x)
            if norm is not None:
                x = norm(x, training=training)
            x = self.activation(x)
        if self.expand is None:
            return x
        return depth_to_space(self.expand(x), self.block_size)

    def compute_output_shape(self, input_shape):
        if not self.upsample:
            m = self.block_size
            n, h, w, _ = input_shape
            width = self.nin_filters if self.nin_depth else self.filters
            return (n, None if h is None else h // m, None if w is None else w // m, width)
        return (*input_shape[:-1], self.output_channels)

    def get_config(self):
        return {
            **super().get_config(),
            "block_size": self.block_size,
            "filters": self.filters,
            "nin_depth": self.nin_depth,
            "nin_filters": self.nin_filters,
            "output_channels": self.output_channels,
            "activation": keras.activations.serialize(self.activation),
            "normalization": self.normalization,
            "input_mode": self.input_mode,
            "input_normalization": self.input_normalization,
            "upsample": self.upsample,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
