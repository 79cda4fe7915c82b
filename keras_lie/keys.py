"""Secret keys for the encryption schemes.

A key is generated from the operating system's CSPRNG (`secrets`) unless an
explicit seed is given for a reproducible experiment; numpy's global random
state is never used. Keys are saved as versioned JSON documents, written
atomically with owner-only permissions, and carry a SHA-256 fingerprint over a
canonical encoding of the key material so that an edited or truncated file
never loads and a layer can refer to a key without storing it.

Example:

>>> key = LearnableKey.generate(block_size=4, channels=3)
>>> key.save("key.json")
>>> load_key("key.json").fingerprint == key.fingerprint
True
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import io
import json
import os
import pickle
import secrets
import stat
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from keras_lie._files import atomic_write_bytes
from keras_lie.errors import KeyFileError, KeyMismatchError

KEY_FORMAT = "keras-lie-key"
KEY_FORMAT_VERSION = 1
MAX_BLOCK_SIZE = 64  # a learnable key of 64 x 64 x 4 blocks has 32,768 entries
MAX_CHANNELS = 4
MAX_KEY_FILE_BYTES = 4 * 1024 * 1024  # far above the largest key (about 0.5 MB)
MAX_REFERENCE_PICKLE_BYTES = 1024 * 1024
SALT_BYTES = 16
# Where a key's material came from: only "random" keys are secrets worth the name.
KEY_ORIGINS = ("random", "seed", "reference")


def short_fingerprint(fingerprint: str) -> str:
    """The first 16 hex digits of a fingerprint, grouped for display: 'd979:4ce1:4cb2:c4cd'."""
    digits = fingerprint.removeprefix("sha256:")[:16]
    return ":".join(digits[i : i + 4] for i in range(0, 16, 4))


def canonical_scheme_name(name: str) -> str:
    """Return the canonical scheme name for `name` ('block-shuffle' -> 'block_shuffle')."""
    canonical = str(name).strip().lower().replace("-", "_")
    canonical = _SCHEME_ALIASES.get(canonical, canonical)
    if canonical not in _KEY_CLASSES:
        raise KeyMismatchError(
            f"Unknown scheme {name!r}; choose one of {', '.join(sorted(_KEY_CLASSES))}."
        )
    return canonical


class Key:
    """Base class of all keys. Use a subclass, or `generate_key`/`load_key`.

    Attributes:
        scheme: the scheme name ("learnable", "block_shuffle", "cat_map", "plain").
        block_size: the block side M (1 for whole-image schemes).
        channels: the number of image channels C the key encrypts.
        created: ISO 8601 creation time (UTC).
        path: the file the key was loaded from or saved to, if any.
    """

    scheme: ClassVar[str] = ""

    def __init__(self, block_size: int, channels: int, *, created: str | None = None):
        self.block_size = _bounded_int(block_size, "block_size", MAX_BLOCK_SIZE)
        self.channels = _bounded_int(channels, "channels", MAX_CHANNELS)
        self.created = created or datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        )
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
    def material(self) -> dict[str, Any]:
        """The secret part of the key as JSON-compatible values."""
        raise NotImplementedError

    @classmethod
    def _from_material(cls, block_size: int, channels: int, material: dict, created: str | None):
        raise NotImplementedError

    @classmethod
    def _material_fields(cls) -> tuple[str, ...]:
        return ()

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
        return hashlib.sha256(self._canonical(self.salt)).hexdigest()

    @property
    def short_fingerprint(self) -> str:
        """The first 16 hex digits of the fingerprint, grouped for display."""
        return short_fingerprint(self.fingerprint)

    def _material_digest(self) -> bytes:
        # Key material never changes after construction (permutations are read-only), so compute once.
        digest = self.__dict__.get("_digest")
        if digest is None:
            digest = self._digest = hashlib.sha256(self._canonical(None)).digest()
        return digest

    def __eq__(self, other: object) -> bool:
        # The same key material is the same key, whatever its salt or origin.
        return isinstance(other, Key) and hmac.compare_digest(self._material_digest(), other._material_digest())

    def __hash__(self) -> int:
        return hash(self._material_digest())

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
    def generate(cls, block_size: int = 4, channels: int = 3, seed: int | None = None) -> Key:
        """A new key; from the OS CSPRNG, or reproducibly from `seed` (experiments only)."""
        raise NotImplementedError

    # -- files ----------------------------------------------------------------------
    def to_json(self) -> str:
        document = {
            "format": KEY_FORMAT,
            "version": KEY_FORMAT_VERSION,
            "scheme": self.scheme,
            "block_size": self.block_size,
            "channels": self.channels,
            **self.material(),
            **self._derived_fields(),
            "origin": self.origin,
            **({"salt": self.salt.hex()} if self.salt is not None else {}),
            "created": self.created,
            "fingerprint": "sha256:" + self.fingerprint,
        }
        return json.dumps(document, indent=1) + "\n"

    def _derived_fields(self) -> dict[str, Any]:
        return {}

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
        if len(text) > MAX_KEY_FILE_BYTES:
            raise KeyFileError(f"{source} is larger than any key file ({MAX_KEY_FILE_BYTES:,} bytes).")
        try:
            document = json.loads(text)
        except RecursionError:
            raise KeyFileError(f"{source} is not a keras-lie key: its JSON is nested far too deep.") from None
        except json.JSONDecodeError as error:
            raise KeyFileError(
                f"{source} is not a keras-lie key: not valid JSON ({error}). "
                "The file may be truncated or not a key file at all."
            ) from None
        return _key_from_document(document, source)


class PlainKey(Key):
    """The identity 'encryption': no secret, so that experiments treat all schemes alike."""

    scheme = "plain"

    def __init__(self, block_size: int = 1, channels: int = 3, *, created: str | None = None):
        super().__init__(block_size, channels, created=created)

    def material(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _from_material(cls, block_size, channels, material, created):
        return cls(block_size, channels, created=created)

    @classmethod
    def generate(cls, block_size: int = 1, channels: int = 3, seed: int | None = None) -> PlainKey:
        return cls(block_size, channels)


class _PermutationKey(Key):
    """A key whose material is one permutation of `permutation_length()` positions."""

    def __init__(self, block_size: int, channels: int, permutation, *, created: str | None = None):
        super().__init__(block_size, channels, created=created)
        self.permutation = _validated_permutation(
            permutation, self.permutation_length(self.block_size, self.channels), self.scheme
        )

    @classmethod
    def permutation_length(cls, block_size: int, channels: int) -> int:
        raise NotImplementedError

    def material(self) -> dict[str, Any]:
        return {"permutation": [int(v) for v in self.permutation]}

    @classmethod
    def _material_fields(cls):
        return ("permutation",)

    @classmethod
    def _from_material(cls, block_size, channels, material, created):
        return cls(block_size, channels, material["permutation"], created=created)

    @classmethod
    def generate(cls, block_size: int = 4, channels: int = 3, seed: int | None = None):
        length = cls.permutation_length(
            _bounded_int(block_size, "block_size", MAX_BLOCK_SIZE), _bounded_int(channels, "channels", MAX_CHANNELS)
        )
        if seed is None:
            order = list(range(length))
            secrets.SystemRandom().shuffle(order)
            permutation = np.asarray(order, dtype=np.int64)
            return cls(block_size, channels, permutation)
        permutation = np.random.Generator(np.random.PCG64(int(seed))).permutation(length)
        return _mark_seeded(cls(block_size, channels, permutation))


class BlockShuffleKey(_PermutationKey):
    """Key of the naive block-wise pixel shuffle: a permutation of the M*M*C values of a block."""

    scheme = "block_shuffle"

    @classmethod
    def permutation_length(cls, block_size: int, channels: int) -> int:
        return block_size * block_size * channels


class LearnableKey(_PermutationKey):
    """Key of the proposed learnable encryption (Tanaka 2018).

    A permutation `k` of the 2*M*M*C nibbles of a block; the reversal mask is
    derived from it exactly as the authors' code does: `r[i] = k[i] > M*M*C`.
    """

    scheme = "learnable"

    @classmethod
    def permutation_length(cls, block_size: int, channels: int) -> int:
        return 2 * block_size * block_size * channels

    @property
    def reversal_mask(self) -> np.ndarray:
        """Boolean mask of the nibble positions whose intensity is reversed (x -> 15 - x)."""
        # Strictly greater, as in the reference implementation (not >=).
        return self.permutation > self.block_size * self.block_size * self.channels

    def _derived_fields(self) -> dict[str, Any]:
        return {"reversal_mask": [int(v) for v in self.reversal_mask]}

    @classmethod
    def from_reference_pickle(cls, path: str | os.PathLike) -> LearnableKey:
        """Import a key saved by the authors' published code.

        The file is a pickle of `[[M, M, C], key]`, with `key` a numpy array holding
        a permutation of 0..2*M*M*C-1. Pickles are untrusted input: the file is read
        with an unpickler that admits only what rebuilding a numpy array needs, so a
        crafted file naming any other global is refused before anything runs.
        """
        path = Path(path)
        data = _read_regular_file(path, MAX_REFERENCE_PICKLE_BYTES, "reference key pickle")
        try:
            loaded = _unstub(_RestrictedUnpickler(io.BytesIO(data)).load())
        except KeyFileError as error:
            raise KeyFileError(f"{path}: {error}") from None
        except RecursionError:
            raise KeyFileError(f"{path} is not a readable reference key pickle (nested far too deep).") from None
        except Exception as error:  # noqa: BLE001 - any malformed pickle is a bad key file
            raise KeyFileError(
                f"{path} is not a readable reference key pickle ({type(error).__name__}: {error})."
            ) from None
        if (
            not isinstance(loaded, (list, tuple))
            or len(loaded) != 2
            or not isinstance(loaded[0], (list, tuple))
            or len(loaded[0]) != 3
            or not isinstance(loaded[1], np.ndarray)
        ):
            raise KeyFileError(
                f"{path} does not hold [[M, M, C], key] as the reference code writes it."
            )
        (rows, cols, channels), permutation = loaded
        if not all(isinstance(v, (int, np.integer)) for v in (rows, cols, channels)):
            raise KeyFileError(f"{path}: block shape {loaded[0]!r} is not three integers.")
        if rows != cols:
            raise KeyFileError(f"{path}: blocks of {rows}x{cols} are not square; keras-lie needs M x M.")
        if permutation.dtype.kind not in "iu":
            raise KeyFileError(f"{path}: the key array has dtype {permutation.dtype}, not integers.")
        key = cls(int(rows), int(channels), permutation.astype(np.int64))
        key.origin = "reference"  # a published key: anyone can decrypt with it
        return key


class CatMapKey(Key):
    """Key of the combined cat map: a 256-bit secret from which every map parameter is drawn.

    The permutation itself depends on the image size, so the key stores the secret
    and `keras_lie.schemes.CatMap` derives the maps from it (see its docstring).
    """

    scheme = "cat_map"
    SECRET_BYTES = 32

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

    def material(self) -> dict[str, Any]:
        return {"secret": self.secret.hex()}

    @classmethod
    def _material_fields(cls):
        return ("secret",)

    @classmethod
    def _from_material(cls, block_size, channels, material, created):
        return cls(block_size, channels, material["secret"], created=created)

    @classmethod
    def generate(cls, block_size: int = 1, channels: int = 3, seed: int | None = None) -> CatMapKey:
        if seed is None:
            return cls(block_size, channels, secrets.token_bytes(cls.SECRET_BYTES))
        secret = hashlib.sha256(b"keras-lie/cat_map/seed/" + str(int(seed)).encode()).digest()
        return _mark_seeded(cls(block_size, channels, secret))


_KEY_CLASSES: dict[str, type[Key]] = {
    cls.scheme: cls for cls in (PlainKey, BlockShuffleKey, CatMapKey, LearnableKey)
}
# Schemes that encrypt every M x M block with the same key (block stems, block augmentation).
BLOCK_WISE_SCHEMES = tuple(name for name, cls in _KEY_CLASSES.items() if issubclass(cls, _PermutationKey))
_SCHEME_ALIASES = {
    "proposed": "learnable",
    "naive": "block_shuffle",
    "shuffle": "block_shuffle",
    "catmap": "cat_map",
    "identity": "plain",
}


def key_class(scheme: str) -> type[Key]:
    """The key class of a scheme name."""
    return _KEY_CLASSES[canonical_scheme_name(scheme)]


def generate_key(scheme: str, block_size: int | None = None, channels: int = 3,
                 seed: int | None = None) -> Key:
    """A new key for `scheme` (block_size defaults to 4 for block-wise schemes, 1 otherwise)."""
    cls = key_class(scheme)
    if block_size is None:
        block_size = 4 if issubclass(cls, _PermutationKey) else 1
    return cls.generate(block_size=block_size, channels=channels, seed=seed)


def load_key(path: str | os.PathLike) -> Key:
    """Load and validate a key file written by `Key.save` (or `keras-lie keygen`).

    Only regular files up to `MAX_KEY_FILE_BYTES` are read (a FIFO or device never
    blocks the caller, and a huge file is refused before it is parsed).
    """
    path = Path(path)
    data = _read_regular_file(path, MAX_KEY_FILE_BYTES, "key file")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFileError(f"{path} is not a keras-lie key (not a JSON text file).") from None
    key = Key.from_json(text, source=str(path))
    key.path = path
    return key


def _read_regular_file(path: Path, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, with a clear error otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise KeyFileError(
            f"Key file {path} does not exist; create one with `keras-lie keygen -o {path}`."
        ) from None
    except IsADirectoryError:
        raise KeyFileError(f"{path} is a folder, not a {what}.") from None
    except OSError as error:
        raise KeyFileError(f"Cannot read {what} {path}: {error.strerror}.") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise KeyFileError(f"{path} is a folder, not a {what}.")
        raise KeyFileError(f"{path} is not a regular file (a pipe, socket or device); give the {what} itself.")
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > limit:
            raise KeyFileError(
                f"{path} is {info.st_size:,} bytes, more than any {what} ({limit:,}); it is not a {what}."
            )
        try:
            data = handle.read(limit + 1)
        except OSError as error:
            raise KeyFileError(f"Cannot read {what} {path}: {error.strerror}.") from None
    if len(data) > limit:
        raise KeyFileError(f"{path} is larger than any {what} ({limit:,} bytes); it is not a {what}.")
    return data


# -- internals ------------------------------------------------------------------------


def _key_from_document(document: Any, source: str) -> Key:
    if not isinstance(document, dict) or document.get("format") != KEY_FORMAT:
        raise KeyFileError(f"{source} is not a keras-lie key file (no 'format': '{KEY_FORMAT}').")
    version = document.get("version")
    if version != KEY_FORMAT_VERSION:
        raise KeyFileError(
            f"{source} has key format version {version!r}; this keras-lie reads version "
            f"{KEY_FORMAT_VERSION}. Upgrade keras-lie or regenerate the key."
        )
    scheme = document.get("scheme")
    if scheme not in _KEY_CLASSES:
        raise KeyFileError(f"{source} names an unknown scheme {scheme!r}.")
    cls = _KEY_CLASSES[scheme]
    for field in ("block_size", "channels", "fingerprint", *cls._material_fields()):
        if field not in document:
            raise KeyFileError(f"{source} lacks the field {field!r}; the file is incomplete.")
    for field in ("block_size", "channels"):
        if type(document[field]) is not int:
            raise KeyFileError(f"{source}: {field} must be an integer, not {document[field]!r}.")
    material = {field: document[field] for field in cls._material_fields()}
    try:
        key = cls._from_material(
            document["block_size"], document["channels"], material, document.get("created")
        )
    except (KeyFileError, KeyMismatchError) as error:
        raise KeyFileError(f"{source}: {error}") from None
    except (TypeError, ValueError) as error:
        raise KeyFileError(f"{source}: invalid key material ({error}).") from None
    origin = document.get("origin", "random")
    if origin not in KEY_ORIGINS:
        raise KeyFileError(f"{source}: origin must be one of {', '.join(KEY_ORIGINS)}, not {origin!r}.")
    key.origin = origin
    if "salt" in document:
        salt = document["salt"]
        try:
            key.salt = bytes.fromhex(salt) if isinstance(salt, str) and len(salt) <= 128 else None
        except ValueError:
            key.salt = None
        if not key.salt:
            raise KeyFileError(f"{source}: the salt is not a hex string; the file was edited.")
    for field, value in key._derived_fields().items():
        if document.get(field, value) != value:
            raise KeyFileError(
                f"{source}: {field} does not match the permutation; the file was edited."
            )
    if document["fingerprint"] != "sha256:" + key.fingerprint:
        raise KeyFileError(
            f"{source}: the fingerprint does not match the key material; the file was edited "
            "or corrupted. Restore it from a backup; a changed key cannot decrypt old images."
        )
    return key


def _mark_seeded(key: Key) -> Key:
    key.origin, key.salt = "seed", secrets.token_bytes(SALT_BYTES)
    return key


def _bounded_int(value: Any, name: str, maximum: int) -> int:
    value = _positive_int(value, name)
    if value > maximum:
        raise KeyMismatchError(
            f"{name} must be at most {maximum}, not {value}; larger blocks give keys of millions of entries "
            "and hide nothing more (every block still shares one key)."
        )
    return value


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise KeyMismatchError(f"{name} must be a positive integer, not {value!r}.")
    return int(value)


def _validated_permutation(values: Any, length: int, scheme: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise KeyFileError(f"The {scheme} permutation must be a 1-D list of integers.")
    if array.size != length:
        raise KeyFileError(
            f"The {scheme} permutation has {array.size} entries; block size and channels "
            f"call for {length}."
        )
    array = array.astype(np.int64)
    if not np.array_equal(np.sort(array), np.arange(length)):
        raise KeyFileError(
            f"The {scheme} key is not a permutation of 0..{length - 1} (values repeat or are "
            "out of range)."
        )
    array.setflags(write=False)
    return array


class _ArrayStub:
    """Stands in for a pickled numpy array until its shape and size are checked.

    numpy's pickles call `_reconstruct(ndarray, shape, dtype)` and then
    `__setstate__((version, shape, dtype, fortran, raw_bytes))`. Here neither
    allocates: the state is checked (1-D, at most the longest key, bytes that
    match the shape exactly) before the array is built from the bytes given.
    """

    MAX_LENGTH = 2 * MAX_BLOCK_SIZE * MAX_BLOCK_SIZE * MAX_CHANNELS

    def __init__(self, *args):
        self.array: np.ndarray | None = None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) != 5:
            raise KeyFileError("the key array's pickled state is malformed")
        _, shape, dtype, _, raw = state
        if not (isinstance(shape, tuple) and len(shape) == 1 and isinstance(shape[0], int)):
            raise KeyFileError(f"the key array has shape {shape!r}; a key is one list of integers")
        if not 0 <= shape[0] <= self.MAX_LENGTH:
            raise KeyFileError(f"the key array has {shape[0]} entries, more than any key ({self.MAX_LENGTH})")
        if not isinstance(dtype, np.dtype) or dtype.kind not in "iu" or dtype.itemsize > 8:
            raise KeyFileError(f"the key array has dtype {dtype!r}, not integers")
        if not isinstance(raw, bytes) or len(raw) != shape[0] * dtype.itemsize:
            raise KeyFileError("the key array's data does not match its shape")
        self.array = np.frombuffer(raw, dtype=dtype).copy()


def _unstub(value):
    if isinstance(value, _ArrayStub):
        if value.array is None:
            raise KeyFileError("the key array has no data")
        return value.array
    if isinstance(value, (list, tuple)):
        return type(value)(_unstub(v) for v in value)
    return value


def _safe_dtype(name, align=False, copy=False):
    if not isinstance(name, str) or name.lstrip("<>=|") not in ("i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"):
        raise KeyFileError(f"the key array has dtype {name!r}, not integers")
    return np.dtype(name)


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits only what rebuilding a small integer numpy array needs, and allocates nothing unchecked."""

    def find_class(self, module: str, name: str):
        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): _ArrayStub,
            ("numpy._core.multiarray", "_reconstruct"): _ArrayStub,  # NumPy 1 and 2 pickles both exist
            ("numpy", "ndarray"): _ArrayStub,
            ("numpy", "dtype"): _safe_dtype,
        }
        if (module, name) not in allowed:
            raise KeyFileError(
                f"the pickle names the global {module}.{name}, which a key never needs; "
                "refusing to load it (it may be malicious)."
            )
        return allowed[(module, name)]
