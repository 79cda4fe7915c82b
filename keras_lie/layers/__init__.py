"""Keras layers of keras-lie."""

from keras_lie.layers.base_cipher_layer import register_key
from keras_lie.layers.block_stem import BlockStem, split_nibbles
from keras_lie.layers.block_tokens import BlockTokens
from keras_lie.layers.channel_padding import ChannelPadding
from keras_lie.layers.decrypt import Decrypt
from keras_lie.layers.depth_to_space import DepthToSpace
from keras_lie.layers.encrypt import Encrypt
from keras_lie.layers.encryption_info import EncryptionInfo
from keras_lie.layers.positionwise_dense import PositionwiseDense
from keras_lie.layers.replicate_padding import ReplicatePadding2D
from keras_lie.layers.shake_drop import ShakeDrop
from keras_lie.layers.stochastic_depth import StochasticDepth

__all__ = [
    "BlockStem",
    "BlockTokens",
    "ChannelPadding",
    "Decrypt",
    "DepthToSpace",
    "Encrypt",
    "EncryptionInfo",
    "PositionwiseDense",
    "ReplicatePadding2D",
    "ShakeDrop",
    "StochasticDepth",
    "register_key",
    "split_nibbles",
]
