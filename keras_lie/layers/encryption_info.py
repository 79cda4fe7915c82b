"""The `EncryptionInfo` layer: what a model expects its input to be encrypted with."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="keras_lie")
class EncryptionInfo(keras.layers.Layer):
    """An identity layer that records the scheme and key fingerprint a model was trained for.

    It holds the fingerprint, never the key, so a model can be handed out and still
    refuse images declared as encrypted under another key
    (`keras_lie.models.check_key`). `convert_key` updates it.

    Input shape: any. Output shape: the same.
    """

    def __init__(self, scheme: str = "plain", key_fingerprint: str | None = None, **kwargs):
        kwargs.setdefault("trainable", False)
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.scheme = scheme
        self.key_fingerprint = key_fingerprint
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scheme": self.scheme, "key_fingerprint": self.key_fingerprint}
