"""The `Key` base class: what every key holds, its fingerprint, and how a key class registers itself.

A key class sets `scheme` (and, if it has other names, `aliases`); defining the
class records it in `keras_lie.keys.key_classes`, where `key_class`,
`generate_key` and `load_key` find it.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from keras_lie.errors import KeyMismatchError
from keras_lie.io.atomic_files import atomic_write_bytes
from keras_lie.keys.file_format import key_from_json, key_to_json, load_key
from keras_lie.keys.key_classes import register_key_class
from keras_lie.keys.validation import MAX_BLOCK_SIZE, MAX_CHANNELS, _bounded_int

SALT_BYTES = 16


def short_fingerprint(fingerprint: str) -> str:
    """The first 16 hex digits of a fingerprint, grouped for display: 'd979:4ce1:4cb2:c4cd'."""
    digits = fingerprint.removeprefix("sha256:")[:16]
    return ":".join(digits[i : i + 4] for i in range(0, 16, 4))


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Key:
    """Base class of all keys. Use a subclass, or `generate_key`/`load_key`.

    Attributes:
        scheme: the scheme name ("learnable", "block_shuffle", "cat_map", "plain", "ele", "etc").
        block_size: the block side M (1 for whole-image schemes).
        channels: the number of image channels C the key encrypts.
        created: ISO 8601 creation time (UTC).
        path: the file the key was loaded from or saved to, if any.
    """

    scheme: ClassVar[str] = ""  # a subclass that sets it is registered under it
    aliases: ClassVar[tuple[str, ...]] = ()  # other names `canonical_scheme_name` accepts for the scheme
    default_block_size: ClassVar[int] = 1  # the block side `generate_key` uses when given none
    fits_one_image_size: ClassVar[bool] = False  # True where `generate` needs `image_size`

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("scheme"):  # the abstract kinds (one permutation, position-keyed) name none
            register_key_class(cls)

    def __init__(self, block_size: int, channels: int, *, created: str | None = None):
        self.block_size = _bounded_int(block_size, "block_size", MAX_BLOCK_SIZE)
        self.channels = _bounded_int(channels, "channels", MAX_CHANNELS)
        self.created = created or _utc_now()
        self.path: Path | None = None
        self.origin = "random"
        # Keys derived from a seed have little entropy: a random salt in their fingerprint
        # keeps it from confirming a guessed seed (the salt is stored only in the key file).
        self.salt: bytes | None = None

    @property
    def is_experiment_key(self) -> bool:
        """True for keys anyone can re-derive (from a seed, or a published reference key)."""
        return self.origin != "random"

    # -- key material -------------------------------------------------------------
    # The attributes that hold the secret, in key-file order; each is also the constructor's keyword
    # of the same name, so `material()` and reading a key file need nothing more from a key kind.
    material_fields: ClassVar[tuple[str, ...]] = ()

    def material(self) -> dict[str, Any]:
        """The secret part of the key as JSON-compatible values (arrays as lists, bytes as hex)."""
        return {field: _json_value(getattr(self, field)) for field in self.material_fields}

    @classmethod
    def _from_material(cls, block_size: int, channels: int, material: dict, created: str | None) -> Key:
        return cls(block_size, channels, created=created, **material)

    def _derived_fields(self) -> dict[str, Any]:
        """Fields computed from the material that the key file also shows (checked when it is read)."""
        return {}

    # -- identity -------------------------------------------------------------------
    def _canonical(self, salt: bytes | None) -> bytes:
        document = {
            "scheme": self.scheme,
            "block_size": self.block_size,
            "channels": self.channels,
            "material": self.material(),
        }
        if salt is not None:
            document["salt"] = salt.hex()
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")

    @property
    def fingerprint(self) -> str:
        """SHA-256 (hex) over the canonical encoding of scheme, sizes, material (and salt, if any).

        A seed-derived key's fingerprint includes its random salt, so hashing
        candidate seeds cannot find the key from its public fingerprint.
        """
        cached = self.__dict__.get("_fingerprint")
        if cached is None or cached[0] != self.salt:  # the salt is set once, after construction
            cached = self._fingerprint = (self.salt, hashlib.sha256(self._canonical(self.salt)).hexdigest())
        return cached[1]

    @property
    def short_fingerprint(self) -> str:
        """The first 16 hex digits of the fingerprint, grouped for display."""
        return short_fingerprint(self.fingerprint)

    def material_digest(self) -> bytes:
        """SHA-256 (32 raw bytes) over the scheme, sizes and material, without the salt.

        Two keys with the same material have the same digest whatever their salt or
        origin: it is the key's identity for equality, hashing and caches. It is not
        the fingerprint: without the salt, it would confirm a guessed seed, so never
        show or store it.
        """
        # Key material never changes after construction (permutations are read-only), so compute once.
        digest = self.__dict__.get("_digest")
        if digest is None:
            digest = self._digest = hashlib.sha256(self._canonical(None)).digest()
        return digest

    def _material_digest(self) -> bytes:
        # The former name of `material_digest`, kept for callers of it.
        return self.material_digest()

    def __eq__(self, other: object) -> bool:
        # The same key material is the same key, whatever its salt or origin.
        return isinstance(other, Key) and hmac.compare_digest(self.material_digest(), other.material_digest())

    def __hash__(self) -> int:
        return hash(self.material_digest())

    def __repr__(self) -> str:
        # Never the key material: reprs end up in logs and notebooks.
        return (
            f"{type(self).__name__}(block_size={self.block_size}, channels={self.channels}, "
            f"fingerprint={self.short_fingerprint})"
        )

    def describe(self) -> dict[str, Any]:
        """Public facts about the key (no key material): what `keras-lie key-info` prints."""
        return {
            "scheme": self.scheme,
            "block_size": self.block_size,
            "channels": self.channels,
            "created": self.created,
            "fingerprint": self.fingerprint,
            "short_fingerprint": self.short_fingerprint,
            "origin": self.origin,
            "experiment_key": self.is_experiment_key,
            "path": str(self.path) if self.path else None,
        }

    # -- generation -----------------------------------------------------------------
    @classmethod
    def generate(cls, block_size: int | None = None, channels: int = 3, seed: int | None = None) -> Key:
        """A new key; from the OS CSPRNG, or reproducibly from `seed` (experiments only).

        `block_size` defaults to the kind's `default_block_size` (4 where the scheme has blocks).
        """
        raise NotImplementedError

    # -- files (the format is in keras_lie.keys.file_format) ------------------------
    def to_json(self) -> str:
        """The text of the key file: format, scheme, sizes, material, origin, salt, creation time, fingerprint."""
        return key_to_json(self)

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the key atomically as JSON, readable by the owner only (0600)."""
        written = atomic_write_bytes(
            path, self.to_json().encode("ascii"), mode=0o600, overwrite=overwrite
        )
        self.path = written
        return written

    @classmethod
    def load(cls, path: str | os.PathLike) -> Key:
        """Load and validate a key file; the scheme must be this class's scheme."""
        key = load_key(path)
        if cls is not Key and not isinstance(key, cls):
            raise KeyMismatchError(
                f"{path} holds a {key.scheme!r} key, but a {cls.scheme!r} key is needed; "
                f"generate one with `keras-lie keygen --scheme {cls.scheme}`."
            )
        return key

    @classmethod
    def from_json(cls, text: str, *, source: str = "<string>") -> Key:
        """The key in the text of a key file, validated; `source` names the text in error messages."""
        return key_from_json(text, source=source)


def _json_value(value: Any) -> Any:
    """A material attribute as a key file holds it: arrays (booleans too) as lists of ints, bytes as hex."""
    if isinstance(value, np.ndarray):
        return value.astype(np.int64).tolist()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, tuple):
        return list(value)
    return value


def _mark_seeded(key: Key) -> Key:
    key.origin, key.salt = "seed", secrets.token_bytes(SALT_BYTES)
    return key
