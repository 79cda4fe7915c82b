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
import re
import secrets
import stat
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from keras_lie._files import atomic_write_bytes
from keras_lie.blocks import reversal_mask
from keras_lie.errors import KeyFileError, KeyMismatchError

KEY_FORMAT = "keras-lie-key"
KEY_FORMAT_VERSION = 1
MAX_BLOCK_SIZE = 64  # a learnable key of 64 x 64 x 4 blocks has 32,768 entries
MAX_CHANNELS = 4
# Values in a position-keyed key (ELE, EtC). An ELE key holds two per image byte, so this
# admits 480 x 640 RGB frames (1.8 million values, 14 MB of JSON).
MAX_KEY_ENTRIES = 2_097_152
MAX_KEY_FILE_BYTES = 24 * 1024 * 1024  # above the largest key
MAX_REFERENCE_PICKLE_BYTES = 1024 * 1024
MAX_REFERENCE_NPZ_BYTES = 16 * 1024 * 1024
SALT_BYTES = 16
# Where a key's material came from: only "random" keys are secrets worth the name.
KEY_ORIGINS = ("random", "seed", "reference")


_FINGERPRINT_PATTERN = re.compile(r"(sha256:)?[0-9a-f]{4}(:[0-9a-f]{4}){3}|(sha256:)?[0-9a-f]{64}")


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
        scheme: the scheme name ("learnable", "block_shuffle", "cat_map", "plain", "ele", "etc").
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
        cached = self.__dict__.get("_fingerprint")
        if cached is None or cached[0] != self.salt:  # the salt is set once, after construction
            cached = self._fingerprint = (self.salt, hashlib.sha256(self._canonical(self.salt)).hexdigest())
        return cached[1]

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
        return reversal_mask(self.permutation)

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


class _PositionKeyedKey(Key):
    """A key with its own material for every block position of one image size, then a block location shuffle.

    The schemes of Madono et al. (ELE) and of Kurihara, Chuman and Kiya (EtC)
    transform the block at plain position `s` with key row `s`, then move it:
    ciphertext block `b` is the transformed plain block `block_permutation[b]`.
    Blocks are numbered in raster order. The key fits one image size only.
    """

    def __init__(self, block_size: int, channels: int, image_size, block_permutation, *,
                 created: str | None = None):
        super().__init__(block_size, channels, created=created)
        self.image_size = self._check_entries(self.block_size, self.channels, image_size)
        self.block_permutation = _validated_permutation(block_permutation, self.blocks, self.scheme)

    @property
    def grid(self) -> tuple[int, int]:
        """Block rows and columns (H/M, W/M) of the images the key is for."""
        return self.image_size[0] // self.block_size, self.image_size[1] // self.block_size

    @property
    def blocks(self) -> int:
        return self.grid[0] * self.grid[1]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "image_size": list(self.image_size)}

    def _position_material(self) -> dict[str, Any]:
        raise NotImplementedError

    def material(self) -> dict[str, Any]:
        return {"image_size": list(self.image_size), **self._position_material(),
                "block_permutation": [int(v) for v in self.block_permutation]}

    @classmethod
    def _check_entries(cls, block_size: int, channels: int, image_size) -> tuple[int, int]:
        height, width = _image_size(image_size, block_size)
        entries = (height // block_size) * (width // block_size) * cls.entries_per_block(block_size, channels)
        if entries > MAX_KEY_ENTRIES:
            raise KeyMismatchError(
                f"A {cls.scheme} key for {height}x{width} images in blocks of {block_size} would hold "
                f"{entries:,} values, more than a key file holds ({MAX_KEY_ENTRIES:,}); use larger blocks "
                "or smaller images."
            )
        return height, width

    @classmethod
    def entries_per_block(cls, block_size: int, channels: int) -> int:
        raise NotImplementedError

    @classmethod
    def generate(cls, block_size: int = 4, channels: int = 3, seed: int | None = None, *, image_size=None):
        """A new key for `image_size` (H, W) images; from the OS CSPRNG, or from `seed` (experiments only)."""
        block_size = _bounded_int(block_size, "block_size", MAX_BLOCK_SIZE)
        channels = _bounded_int(channels, "channels", MAX_CHANNELS)
        size = cls._check_entries(block_size, channels, _required_image_size(cls.scheme, image_size))
        key = cls._draw(block_size, channels, size, (size[0] // block_size) * (size[1] // block_size), _Draws(seed))
        return _mark_seeded(key) if seed is not None else key

    @classmethod
    def _draw(cls, block_size: int, channels: int, image_size: tuple[int, int], blocks: int, draw: _Draws):
        """A key of this scheme with its material drawn from `draw`."""
        raise NotImplementedError


class ELEKey(_PositionKeyedKey):
    """Key of the extended learnable encryption (ELE; Madono et al., AAAI-20 workshop, arXiv:2001.07761).

    Every block position `s` has its own learnable-encryption key: a permutation
    `nibble_keys[s]` of the 2*M*M*C nibbles of a block, with the reversal mask
    derived as in Tanaka's code (`nibble_keys[s] > M*M*C`, strictly). The blocks
    are then shuffled by `block_permutation`.
    """

    scheme = "ele"

    def __init__(self, block_size: int, channels: int, image_size, nibble_keys, block_permutation, *,
                 created: str | None = None):
        super().__init__(block_size, channels, image_size, block_permutation, created=created)
        length = self.entries_per_block(self.block_size, self.channels)
        rows = np.asarray(nibble_keys)
        if rows.ndim != 2 or rows.shape[0] != self.blocks:
            raise KeyFileError(
                f"An ele key for {self.image_size[0]}x{self.image_size[1]} images in blocks of {self.block_size} "
                f"needs {self.blocks} nibble keys (one per block position), got shape {rows.shape}."
            )
        self.nibble_keys = _validated_permutations(rows, length, self.scheme)

    @classmethod
    def entries_per_block(cls, block_size: int, channels: int) -> int:
        return 2 * block_size * block_size * channels

    @property
    def reversal_masks(self) -> np.ndarray:
        """(blocks, 2*M*M*C) booleans: the nibble positions each block's key reverses."""
        return reversal_mask(self.nibble_keys)

    def _position_material(self) -> dict[str, Any]:
        return {"nibble_keys": self.nibble_keys.tolist()}

    @classmethod
    def _material_fields(cls):
        return ("image_size", "nibble_keys", "block_permutation")

    @classmethod
    def _from_material(cls, block_size, channels, material, created):
        return cls(block_size, channels, material["image_size"], material["nibble_keys"],
                   material["block_permutation"], created=created)

    @classmethod
    def _draw(cls, block_size, channels, image_size, blocks, draw) -> ELEKey:
        return cls(block_size, channels, image_size, draw.permutations(blocks, cls.entries_per_block(block_size, channels)),
                   draw.permutations(1, blocks)[0])

    @classmethod
    def from_reference_npz(cls, path: str | os.PathLike) -> ELEKey:
        """Import a key in the format of the reference implementation's key files (`ele_key_m4.npz`).

        Arrays `block_size`, `image_size`, `grid`, `nibble_key` (blocks, 6*M*M) and
        `block_perm` (blocks,); `nibble_reverse`, if present, must equal the mask
        derived from `nibble_key`. Read with `allow_pickle=False`, sizes checked
        before any array is decompressed.
        """
        arrays = _read_reference_npz(path, ("block_size", "image_size", "nibble_key", "block_perm"),
                                     ("grid", "nibble_reverse"))
        block_size, image_size = _reference_geometry(path, arrays)
        nibble_keys = arrays["nibble_key"]
        channels = nibble_keys.shape[-1] // (2 * block_size * block_size) if nibble_keys.ndim == 2 else 0
        if channels < 1 or nibble_keys.shape[-1] != 2 * block_size * block_size * channels:
            raise KeyFileError(f"{path}: nibble_key has shape {nibble_keys.shape}, not (blocks, 2*M*M*C).")
        try:
            key = cls(block_size, channels, image_size, nibble_keys.astype(np.int64), arrays["block_perm"])
        except (KeyFileError, KeyMismatchError) as error:
            raise KeyFileError(f"{path}: {error}") from None
        if "nibble_reverse" in arrays and not np.array_equal(arrays["nibble_reverse"], key.reversal_masks):
            raise KeyFileError(f"{path}: nibble_reverse is not the mask nibble_key > M*M*C; the file was edited.")
        key.origin = "reference"
        return key


class EtCKey(_PositionKeyedKey):
    """Key of the block scrambling of encryption-then-compression (EtC; Kurihara, Chuman, Kiya).

    Per block position `s`, in this order: `rotations[s]` counter-clockwise
    quarter turns; negative-positive `x -> 255 - x` where `negative[s]`; a mirror
    (rows reversed where `flip_vertical[s]`, columns where `flip_horizontal[s]`;
    never both); output channel `c` taken from input channel `channel_sources[s, c]`.
    Then the blocks are shuffled by `block_permutation`.

    `colour_shuffle="permute"` (the default) requires every `channel_sources` row to
    be a permutation, so the scheme is invertible. `"reference_code"` reproduces the
    reference code's in-place colour assignment, which copies channels over each
    other (its rows need not be permutations): images encrypted with it cannot be
    decrypted, and `decrypt` refuses.

    `generate` gives each block one of the 8 symmetries of the square uniformly
    (a rotation and a horizontal mirror or none), a negative-positive transform
    with probability 1/2 and a uniform channel permutation. (The reference code
    draws rotation and mirror separately, which weights the 8 symmetries
    unequally, and negates exactly half the blocks; its keys import with
    `from_reference_npz`.)
    """

    scheme = "etc"
    COLOUR_SHUFFLES = ("permute", "reference_code")

    def __init__(self, block_size: int, channels: int, image_size, *, rotations, negative, flip_vertical,
                 flip_horizontal, channel_sources, block_permutation, colour_shuffle: str = "permute",
                 created: str | None = None):
        super().__init__(block_size, channels, image_size, block_permutation, created=created)
        if colour_shuffle not in self.COLOUR_SHUFFLES:
            raise KeyFileError(f"colour_shuffle must be one of {', '.join(self.COLOUR_SHUFFLES)}, not {colour_shuffle!r}.")
        self.colour_shuffle = colour_shuffle
        self.rotations = _validated_codes(rotations, self.blocks, 4, "rotations")
        self.negative = _validated_codes(negative, self.blocks, 2, "negative").astype(bool)
        self.flip_vertical = _validated_codes(flip_vertical, self.blocks, 2, "flip_vertical").astype(bool)
        self.flip_horizontal = _validated_codes(flip_horizontal, self.blocks, 2, "flip_horizontal").astype(bool)
        if (self.flip_vertical & self.flip_horizontal).any():
            raise KeyFileError("An etc key mirrors a block one way at most: flip_vertical and flip_horizontal "
                               "are both set for some block.")
        sources = np.asarray(channel_sources)
        if sources.shape != (self.blocks, self.channels) or (sources.size and sources.dtype.kind not in "iu"):
            raise KeyFileError(f"channel_sources must be {self.blocks} rows of {self.channels} channel indices, "
                               f"got shape {sources.shape}.")
        if colour_shuffle == "permute":
            self.channel_sources = _validated_permutations(sources, self.channels, self.scheme)
        else:
            self.channel_sources = _validated_codes(sources, sources.shape, self.channels, "channel_sources")
        for array in (self.negative, self.flip_vertical, self.flip_horizontal):
            array.setflags(write=False)

    @property
    def invertible(self) -> bool:
        return self.colour_shuffle == "permute"

    @classmethod
    def entries_per_block(cls, block_size: int, channels: int) -> int:
        return 5 + channels

    def _position_material(self) -> dict[str, Any]:
        return {
            "rotations": self.rotations.tolist(),
            "negative": self.negative.astype(int).tolist(),
            "flip_vertical": self.flip_vertical.astype(int).tolist(),
            "flip_horizontal": self.flip_horizontal.astype(int).tolist(),
            "channel_sources": self.channel_sources.tolist(),
            "colour_shuffle": self.colour_shuffle,
        }

    @classmethod
    def _material_fields(cls):
        return ("image_size", "rotations", "negative", "flip_vertical", "flip_horizontal", "channel_sources",
                "colour_shuffle", "block_permutation")

    @classmethod
    def _from_material(cls, block_size, channels, material, created):
        return cls(block_size, channels, material["image_size"], rotations=material["rotations"],
                   negative=material["negative"], flip_vertical=material["flip_vertical"],
                   flip_horizontal=material["flip_horizontal"], channel_sources=material["channel_sources"],
                   block_permutation=material["block_permutation"], colour_shuffle=material["colour_shuffle"],
                   created=created)

    @classmethod
    def _draw(cls, block_size, channels, image_size, blocks, draw) -> EtCKey:
        return cls(block_size, channels, image_size, rotations=draw.integers(blocks, 4),
                   negative=draw.integers(blocks, 2), flip_vertical=np.zeros(blocks, np.int64),
                   flip_horizontal=draw.integers(blocks, 2), channel_sources=draw.permutations(blocks, channels),
                   block_permutation=draw.permutations(1, blocks)[0])

    @classmethod
    def from_reference_npz(cls, path: str | os.PathLike, *, colour_shuffle: str = "permute") -> EtCKey:
        """Import a key in the format of the reference implementation's key files (`etc_key_m4.npz`).

        `colour_shuffle="permute"` takes `channel_perm` (invertible);
        `"reference_code"` takes `channel_src_paper_code`, the reference code's
        non-invertible colour mapping (the one behind the published EtC figures).
        """
        if colour_shuffle not in cls.COLOUR_SHUFFLES:
            raise ValueError(f"colour_shuffle must be one of {', '.join(cls.COLOUR_SHUFFLES)}, not {colour_shuffle!r}.")
        channels_field = "channel_perm" if colour_shuffle == "permute" else "channel_src_paper_code"
        arrays = _read_reference_npz(
            path, ("block_size", "image_size", "rotation_ccw", "negative", "flip_vertical", "flip_horizontal",
                   channels_field, "block_perm"), ("grid",))
        block_size, image_size = _reference_geometry(path, arrays)
        sources = arrays[channels_field]
        if sources.ndim != 2:
            raise KeyFileError(f"{path}: {channels_field} has shape {sources.shape}, not (blocks, C).")
        try:
            key = cls(block_size, int(sources.shape[1]), image_size, rotations=arrays["rotation_ccw"],
                      negative=arrays["negative"], flip_vertical=arrays["flip_vertical"],
                      flip_horizontal=arrays["flip_horizontal"], channel_sources=sources,
                      block_permutation=arrays["block_perm"], colour_shuffle=colour_shuffle)
        except (KeyFileError, KeyMismatchError) as error:
            raise KeyFileError(f"{path}: {error}") from None
        key.origin = "reference"
        return key


_KEY_CLASSES: dict[str, type[Key]] = {
    cls.scheme: cls for cls in (PlainKey, BlockShuffleKey, CatMapKey, LearnableKey, ELEKey, EtCKey)
}
# Schemes that encrypt every M x M block with the same key (block stems, block augmentation).
BLOCK_WISE_SCHEMES = tuple(name for name, cls in _KEY_CLASSES.items() if issubclass(cls, _PermutationKey))
# Schemes with their own key for every block position of one image size, and a block location shuffle.
POSITION_KEYED_SCHEMES = tuple(name for name, cls in _KEY_CLASSES.items() if issubclass(cls, _PositionKeyedKey))
_SCHEME_ALIASES = {
    "proposed": "learnable",
    "naive": "block_shuffle",
    "shuffle": "block_shuffle",
    "catmap": "cat_map",
    "identity": "plain",
    "extended_learnable": "ele",
    "encryption_then_compression": "etc",
}


def key_class(scheme: str) -> type[Key]:
    """The key class of a scheme name."""
    return _KEY_CLASSES[canonical_scheme_name(scheme)]


def generate_key(scheme: str, block_size: int | None = None, channels: int = 3,
                 seed: int | None = None, *, image_size: tuple[int, int] | None = None) -> Key:
    """A new key for `scheme` (block_size defaults to 4 for block-wise schemes, 1 otherwise).

    `image_size` (H, W) is required by the position-keyed schemes (`ele`, `etc`),
    whose keys fit one image size, and ignored by the others.
    """
    cls = key_class(scheme)
    if block_size is None:
        block_size = 4 if issubclass(cls, (_PermutationKey, _PositionKeyedKey)) else 1
    if issubclass(cls, _PositionKeyedKey):
        return cls.generate(block_size=block_size, channels=channels, seed=seed, image_size=image_size)
    return cls.generate(block_size=block_size, channels=channels, seed=seed)


def load_key(path: str | os.PathLike) -> Key:
    """Load and validate a key file written by `Key.save` (or `keras-lie keygen`).

    Only regular files up to `MAX_KEY_FILE_BYTES` are read (a FIFO or device never
    blocks the caller, and a huge file is refused before it is parsed).

    Raises:
        KeyFileError: no path, a missing, oversized or malformed file, or a fingerprint given for a file.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise KeyFileError(f"A key is a path to a key file (or a Key); got {type(path).__name__}. "
                           "Create one with `keras-lie keygen -o key.json` or keras_lie.generate_key(...).")
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
        if _FINGERPRINT_PATTERN.fullmatch(str(path)):
            raise KeyFileError(
                f"{path} looks like a key's fingerprint, not a key file; give the path of the key file itself "
                "(`keras-lie key-info FILE` prints a file's fingerprint)."
            ) from None
        raise KeyFileError(
            f"Key file {path} does not exist. Give the key the data was encrypted with (a new key cannot decrypt "
            f"it); to encrypt new data, create one with `keras-lie keygen -o {path}`."
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


MAX_IMAGE_SIDE = 16384


def _image_size(value: Any, block_size: int) -> tuple[int, int]:
    """(H, W) of a position-keyed key, checked: two positive integers, multiples of the block size."""
    if isinstance(value, str) or not isinstance(value, (list, tuple, np.ndarray)) or len(value) != 2:
        raise KeyMismatchError(f"image_size must be (height, width), not {value!r}.")
    height, width = (_positive_int(side, "image_size") for side in value)
    if max(height, width) > MAX_IMAGE_SIDE:
        raise KeyMismatchError(f"image_size {height}x{width} has a side over {MAX_IMAGE_SIDE}.")
    if height % block_size or width % block_size:
        raise KeyMismatchError(
            f"image_size {height}x{width} is not a whole number of {block_size}x{block_size} blocks; "
            f"use sides that are multiples of {block_size}."
        )
    return height, width


def _required_image_size(scheme: str, image_size: Any) -> Any:
    if image_size is None:
        raise KeyMismatchError(
            f"An {scheme} key has its own material for every block position, so it is made for one image "
            f"size: pass image_size=(height, width) (keras-lie keygen --scheme {scheme} --image-size HxW)."
        )
    return image_size


class _Draws:
    """Uniform draws for key generation: from the OS CSPRNG, or from a seeded generator (experiments)."""

    def __init__(self, seed: int | None):
        self._generator = None if seed is None else np.random.Generator(np.random.PCG64(int(seed)))

    def _words(self, shape: tuple[int, ...]) -> np.ndarray:
        count = int(np.prod(shape))
        if self._generator is None:
            return np.frombuffer(secrets.token_bytes(8 * count), dtype=np.uint64).reshape(shape)
        return self._generator.integers(0, 2**64, size=shape, dtype=np.uint64)

    def permutations(self, count: int, length: int) -> np.ndarray:
        """`count` independent uniform permutations of 0..length-1: the order of random 64-bit sort keys."""
        while True:
            words = self._words((count, length))
            ordered = np.sort(words, axis=1)
            if not (ordered[:, 1:] == ordered[:, :-1]).any():  # a tie would bias the order: draw again
                return np.argsort(words, axis=1).astype(np.int64)

    def integers(self, count: int, bound: int) -> np.ndarray:
        """`count` integers in 0..bound-1; `bound` is a power of two, so a 64-bit word's low bits are uniform."""
        return (self._words((count,)) % np.uint64(bound)).astype(np.int64)


def _validated_permutations(rows: Any, length: int, scheme: str) -> np.ndarray:
    """Rows that are each a permutation of 0..length-1, as a read-only int64 array."""
    array = np.asarray(rows)
    if array.ndim != 2 or array.shape[1] != length or (array.size and array.dtype.kind not in "iu"):
        raise KeyFileError(f"The {scheme} key needs rows of {length} integers, got an array of shape {array.shape}.")
    array = array.astype(np.int64)
    if not (np.sort(array, axis=1) == np.arange(length)).all():
        bad = int(np.flatnonzero(~(np.sort(array, axis=1) == np.arange(length)).all(axis=1))[0])
        raise KeyFileError(f"Row {bad} of the {scheme} key is not a permutation of 0..{length - 1}.")
    array.setflags(write=False)
    return array


def _validated_codes(values: Any, shape, bound: int, name: str) -> np.ndarray:
    """Integers (or booleans) in 0..bound-1 of the given shape (or length), as a read-only int64 array."""
    array = np.asarray(values)
    expected = (shape,) if isinstance(shape, int) else tuple(shape)
    if array.shape != expected or (array.size and array.dtype.kind not in "iub"):
        raise KeyFileError(f"{name} must be {expected} integers, got an array of shape {array.shape}.")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= bound):
        raise KeyFileError(f"{name} values must lie in 0..{bound - 1}.")
    array.setflags(write=False)
    return array


def _read_reference_npz(path: str | os.PathLike, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
    """The named arrays of a reference key `.npz`, read without pickles and with every size checked first."""
    path = Path(path)
    data = _read_regular_file(path, MAX_REFERENCE_NPZ_BYTES, "reference key file")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
    except zipfile.BadZipFile:
        raise KeyFileError(f"{path} is not a NumPy .npz archive.") from None
    missing = [name for name in required if name not in members]
    if missing:
        raise KeyFileError(f"{path} lacks the array(s) {', '.join(missing)}; it is not a reference key of this scheme.")
    arrays = {}
    for name in (*required, *(name for name in optional if name in members)):
        if members[name].file_size > MAX_REFERENCE_NPZ_BYTES:
            raise KeyFileError(f"{path}: array {name} unpacks to {members[name].file_size:,} bytes, more than any key.")
        try:
            arrays[name] = np.load(io.BytesIO(archive.read(members[name])), allow_pickle=False)
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
            raise KeyFileError(f"{path}: array {name} is not a plain NumPy array ({error}).") from None
        if arrays[name].dtype.kind not in "iub":
            raise KeyFileError(f"{path}: array {name} has dtype {arrays[name].dtype}, not integers.")
    return arrays


def _reference_geometry(path, arrays: dict) -> tuple[int, tuple[int, int]]:
    """Block size and image size of a reference key file, with its grid (if any) checked against them."""
    block_size, image_size = arrays["block_size"], arrays["image_size"]
    if block_size.shape != () or image_size.shape != (2,):
        raise KeyFileError(f"{path}: block_size must be one integer and image_size two.")
    block_size = _bounded_int(int(block_size), "block_size", MAX_BLOCK_SIZE)
    try:
        height, width = _image_size(tuple(int(v) for v in image_size), block_size)
    except KeyMismatchError as error:
        raise KeyFileError(f"{path}: {error}") from None
    if "grid" in arrays and arrays["grid"].tolist() != [height // block_size, width // block_size]:
        raise KeyFileError(f"{path}: grid {arrays['grid'].tolist()} does not match image_size {[height, width]} "
                           f"in blocks of {block_size}.")
    return block_size, (height, width)
