"""The key of the combined cat map (the `cat_map` scheme): one 256-bit secret."""

from __future__ import annotations

import hashlib
import secrets

from keras_lie.errors import KeyFileError
from keras_lie.keys.base import Key, _mark_seeded


class CatMapKey(Key):
    """Key of the combined cat map: a 256-bit secret from which every map parameter is drawn.

    The permutation itself depends on the image size, so the key stores the secret
    and `keras_lie.schemes.CatMap` derives the maps from it (see its docstring).
    """

    scheme = "cat_map"
    aliases = ("catmap",)
    SECRET_BYTES = 32
    material_fields = ("secret",)

    def __init__(self, block_size: int = 1, channels: int = 3, secret: bytes | str | None = None, *,
                 created: str | None = None):
        super().__init__(block_size, channels, created=created)
        if secret is None:
            raise KeyFileError("A cat map key needs its secret; use CatMapKey.generate().")
        if isinstance(secret, str):
            try:
                secret = bytes.fromhex(secret)
            except ValueError:
                raise KeyFileError("The cat map secret is not a hex string.") from None
        if not isinstance(secret, (bytes, bytearray)) or len(secret) != self.SECRET_BYTES:
            raise KeyFileError(
                f"The cat map secret must be {self.SECRET_BYTES} bytes "
                f"({2 * self.SECRET_BYTES} hex digits)."
            )
        self.secret = bytes(secret)

    @classmethod
    def generate(cls, block_size: int | None = None, channels: int = 3, seed: int | None = None) -> CatMapKey:
        block_size = cls.default_block_size if block_size is None else block_size
        if seed is None:
            return cls(block_size, channels, secrets.token_bytes(cls.SECRET_BYTES))
        secret = hashlib.sha256(b"keras-lie/cat_map/seed/" + str(int(seed)).encode()).digest()
        return _mark_seeded(cls(block_size, channels, secret))
