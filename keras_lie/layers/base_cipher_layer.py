"""Shared machinery of the `Encrypt` and `Decrypt` layers."""

from __future__ import annotations

import os
from typing import ClassVar

import keras

from keras_lie.errors import KeyFileError, KeyMismatchError
from keras_lie.keys import Key, load_key, short_fingerprint
from keras_lie.schemes import PADDING_MODES, get_scheme

# Keys this process holds, by fingerprint: what a cipher layer rebuilt from a config (`load_model`,
# `clone_model`) uses before the path in its config, so a config never needs the key material.
_registered_keys: dict[str, Key] = {}


def register_key(key: Key) -> None:
    """Give cipher layers rebuilt from a config (`keras.models.load_model`, `clone_model`) this key.

    A saved `Encrypt`/`Decrypt` layer records its key file's absolute path and the
    key's fingerprint (a layer made from a key held only in memory records the
    fingerprint alone). On another machine, or with the key file elsewhere, load
    the key and register it before loading the model: a registered key with the
    recorded fingerprint is used instead of the recorded path.

    Example:

    >>> keras_lie.layers.register_key(keras_lie.load_key("/secure/key.json"))
    >>> model = keras.models.load_model("model.keras")
    """
    _registered_keys[key.fingerprint] = key


def _resolve_key(layer_name: str, key, fingerprint: str | None) -> Key:
    """The layer's key: given, registered under the recorded fingerprint, or read from the recorded path."""
    if isinstance(key, Key):
        if fingerprint is not None and fingerprint != key.fingerprint:
            raise KeyMismatchError(
                f"The key given has fingerprint {key.short_fingerprint}, but this {layer_name} layer was saved "
                f"with the key of fingerprint {short_fingerprint(fingerprint)}; give that key."
            )
        return key
    if fingerprint is not None and fingerprint in _registered_keys:
        return _registered_keys[fingerprint]
    if key is None:
        raise KeyFileError(
            f"This {layer_name} layer was made from a key held only in memory (fingerprint "
            f"{short_fingerprint(fingerprint or '')}), which this process does not hold. Load that key and call "
            "keras_lie.layers.register_key(key) before loading the model, or build the layer from a key file."
        )
    try:
        loaded = load_key(key)
    except KeyFileError as error:
        if fingerprint is None:
            raise
        problem = "which does not exist" if not os.path.exists(key) else f"which cannot be used ({error})"
        raise KeyFileError(
            f"This {layer_name} layer needs the key with fingerprint {short_fingerprint(fingerprint)}, recorded at "
            f"{key}, {problem}. Copy that key file to {key}, or load it from where it is and call "
            "keras_lie.layers.register_key(key) before loading the model. A new key cannot replace it."
        ) from None
    if fingerprint is not None and loaded.fingerprint != fingerprint:
        raise KeyMismatchError(
            f"The key file {key} has fingerprint {loaded.short_fingerprint}, but this {layer_name} layer was saved "
            f"with the key of fingerprint {short_fingerprint(fingerprint)}. Point it to the original key file "
            "(or register that key with keras_lie.layers.register_key)."
        )
    return loaded


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
        self.key = _resolve_key(type(self).__name__, key, key_fingerprint)
        if self.key.path is None:  # a key held only in memory: clones and reloads here find it
            _registered_keys.setdefault(self.key.fingerprint, self.key)
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
                # Absolute, so that the model loads from any working folder on this machine.
                "key": os.path.abspath(self.key.path) if self.key.path is not None else None,
                "key_fingerprint": self.key.fingerprint,
                "padding": self.padding,
            }
        )
        return config
