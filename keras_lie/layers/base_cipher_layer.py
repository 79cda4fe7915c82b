"""Shared machinery of the `Encrypt` and `Decrypt` layers."""

from __future__ import annotations

import os
import weakref
from typing import ClassVar

import keras

from keras_lie.errors import KeyFileError, KeyMismatchError
from keras_lie.keys import Key, load_key, short_fingerprint
from keras_lie.schemes import PADDING_MODES, get_scheme

# Keys held only in memory, by fingerprint, for this process: what lets a layer made from
# such a key be cloned (`keras.models.clone_model`) without its config holding the key.
_in_memory_keys: weakref.WeakValueDictionary[str, Key] = weakref.WeakValueDictionary()


def register_key(key: Key) -> None:
    """Make an in-memory key available to cipher layers rebuilt from a config in this process.

    A layer made from a `Key` that has no file records only its fingerprint, so
    `clone_model` (and `from_config`) find the key here. Layers made from keys
    in memory are registered automatically; call this before loading a saved
    model whose cipher layers were made from an in-memory key, in a new process.
    """
    _in_memory_keys[key.fingerprint] = key


class BaseCipherLayer(keras.layers.Layer):
    """A stateless layer that encrypts or decrypts images with a stored key.

    The key is secret, so the layer's config holds the key file's path and
    fingerprint, never the key material. Rebuilding the layer from its config
    (e.g. `keras.models.load_model`) re-reads the file and refuses one whose
    fingerprint differs. A layer made from a key held only in memory records
    `key: None` and the fingerprint; rebuilding it finds the key among those this
    process holds (`register_key`), so `clone_model` works, and a new process
    gets a clear error instead.

    These layers run TensorFlow ops: in `tf.data` pipelines with any Keras
    backend, inside models with the TensorFlow backend.
    """

    direction: ClassVar[str] = ""

    def __init__(
        self,
        key: Key | str | os.PathLike | None,
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
        if key is None:
            key = _in_memory_keys.get(key_fingerprint or "")
            if key is None:
                raise KeyFileError(
                    f"This {type(self).__name__} layer was made from a key held only in memory (fingerprint "
                    f"{short_fingerprint(key_fingerprint or '')}), which this process does not hold. Load the "
                    "key and call keras_lie.layers.register_key(key) before loading the model, or build "
                    "the layer from a key file."
                )
        self.key = key if isinstance(key, Key) else load_key(key)
        if self.key.path is None:
            register_key(self.key)
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

    def compute_output_spec(self, inputs):
        # The input's dtype is kept (uint8 stays uint8), as eager calls do.
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=inputs.dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "key": str(self.key.path) if self.key.path is not None else None,
                "key_fingerprint": self.key.fingerprint,
                "padding": self.padding,
            }
        )
        return config
