"""Keras layers of keras-lie."""

from keras_lie.layers.decrypt import Decrypt
from keras_lie.layers.encrypt import Encrypt

__all__ = ["Decrypt", "Encrypt"]
