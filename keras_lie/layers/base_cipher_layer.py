"""Shared machinery of the `Encrypt` and `Decrypt` layers."""

from __future__ import annotations

import os
from typing import ClassVar

import keras

from keras_lie.errors import KeyMismatchError
from keras_lie.keys import Key, load_key, short_fingerprint
from keras_lie.schemes import PADDING_MODES, get_scheme


class BaseCipherLayer(keras.layers.Layer):
    """A stateless layer that encrypts or decrypts images with a stored key.

    The key is secret, so the layer's config holds the key file's path and
    fingerprint, never the key material. Rebuilding the layer from its config
    (e.g. `keras.models.load_model`) re-reads the file and refuses one whose
    fingerprint differs.
    """

    direction: ClassVar[str] = ""

    def __init__(
        self,
        key: Key | str | os.PathLike,
        padding: str = "error",
        key_fingerprint: str | None = None,
        **kwargs,
    ):
        # Keep the caller's dtype (uint8 stays uint8, float64 stays float64).
        kwargs.setdefault("autocast", False)
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if padding not in PADDING_MODES:
            raise ValueError(f"padding must be one of {PADDING_MODES}, not {padding!r}.")
        self.key = key if isinstance(key, Key) else load_key(key)
        if key_fingerprint is not None and key_fingerprint != self.key.fingerprint:
            raise KeyMismatchError(
                f"The key file {self.key.path} has fingerprint {self.key.short_fingerprint}, "
                f"but this layer was saved with a key of fingerprint "
                f"{short_fingerprint(key_fingerprint)}. Point it to the original key file."
            )
        self.padding = padding
        self.scheme = get_scheme(self.key)
        self.built = True

    def call(self, inputs):
        transform = self.scheme.encrypt if self.direction == "encrypt" else self.scheme.decrypt
        return transform(inputs, padding=self.padding)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.padding == "replicate" and None not in input_shape[-3:-1]:
            height, width = self.scheme.padded_shape(*input_shape[-3:-1])
            return (*input_shape[:-3], height, width, input_shape[-1])
        return input_shape

    def get_config(self) -> dict:
        if self.key.path is None:
            raise ValueError(
                f"{type(self).__name__} was made from a key that is not stored in a file; "
                "save the key first (key.save('key.json')) and build the layer from that path, "
                "so that the saved model refers to the key without containing it."
            )
        config = super().get_config()
        config.update(
            {
                "key": str(self.key.path),
                "key_fingerprint": self.key.fingerprint,
                "padding": self.padding,
            }
        )
        return config
