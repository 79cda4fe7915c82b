"""The `Encrypt` preprocessing layer."""

from __future__ import annotations

import keras

from keras_lie.layers.base_cipher_layer import BaseCipherLayer


@keras.saving.register_keras_serializable(package="keras_lie")
class Encrypt(BaseCipherLayer):
    """Encrypts images with a stored key; no weights, usable in `tf.data` and in models.

    Input shape: `(N, H, W, C)` or `(H, W, C)`, uint8 or floats holding integers
    in [0, 255]; H and W multiples of the key's block size unless
    `padding="replicate"`.
    Output shape: the same (padded up to multiples of the block size with
    `padding="replicate"`), in the input's dtype.

    Args:
        key: a key file path (or a `Key` loaded from one).
        padding: "error" (default) or "replicate" (repeat the last row/column).
        key_fingerprint: the fingerprint the key must have (set by `from_config`).

    Example:

    >>> encrypt = keras_lie.layers.Encrypt("key.json")
    >>> train_ds = train_ds.map(lambda x, y: (encrypt(x), y))
    """

    direction = "encrypt"
