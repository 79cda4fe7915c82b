"""The `Decrypt` preprocessing layer."""

from __future__ import annotations

import keras

from keras_lie.layers.base_cipher_layer import BaseCipherLayer


@keras.saving.register_keras_serializable(package="keras_lie")
class Decrypt(BaseCipherLayer):
    """Decrypts images encrypted with the same key: `Decrypt(k)(Encrypt(k)(x)) == x`.

    Input shape: `(N, H, W, C)` or `(H, W, C)`, uint8 or floats holding integers
    in [0, 255].
    Output shape: the same, in the input's dtype.

    Args:
        key: a key file path (or a `Key` loaded from one).
        padding: "error" (default) or "replicate".
        key_fingerprint: the fingerprint the key must have (set by `from_config`).

    Example:

    >>> decrypt = keras_lie.layers.Decrypt("key.json")
    >>> plain = decrypt(encrypted_images)
    """

    direction = "decrypt"
