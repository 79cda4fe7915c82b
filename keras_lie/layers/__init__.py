"""Keras layers of keras-lie: the cipher layers and the layers that see encryption blocks.

The cipher layers (`Encrypt`, `Decrypt`, `EncryptionInfo`) and the block layers
of the adaptation networks (`BlockStem`, `DepthToSpace`, `BlockTokens`,
`PositionwiseDense`). Layers that belong to one backbone (PyramidNet's
`ShakeDrop`, `StochasticDepth`, `ChannelPadding`; the authors' network's
`ReplicatePadding2D`) live with it in `keras_lie.models`; their old names here
still work and warn.
"""

from keras_lie.layers.base_cipher_layer import register_key
from keras_lie.layers.block_stem import BlockStem, split_nibbles
from keras_lie.layers.block_tokens import BlockTokens
from keras_lie.layers.decrypt import Decrypt
from keras_lie.layers.depth_to_space import DepthToSpace
from keras_lie.layers.encrypt import Encrypt
from keras_lie.layers.encryption_info import EncryptionInfo
from keras_lie.layers.positionwise_dense import PositionwiseDense

__all__ = [
    "BlockStem",
    "BlockTokens",
    "Decrypt",
    "DepthToSpace",
    "Encrypt",
    "EncryptionInfo",
    "PositionwiseDense",
    "register_key",
    "split_nibbles",
]

# Moved to keras_lie.models (backbone parts); the names here are deprecated aliases.
_MOVED_TO_MODELS = ("ChannelPadding", "ReplicatePadding2D", "ShakeDrop", "StochasticDepth")


def __getattr__(name: str):
    if name in _MOVED_TO_MODELS:
        import importlib
        import warnings

        warnings.warn(f"keras_lie.layers.{name} has moved to keras_lie.models.{name}; import it from there.",
                      DeprecationWarning, stacklevel=2)
        # A deprecated alias points up a floor, on purpose (tests/test_layering.py allows exactly these).
        return getattr(importlib.import_module("keras_lie.models"), name)
    raise AttributeError(f"module 'keras_lie.layers' has no attribute {name!r}")
