"""The key file: a versioned JSON document, and the checks a file passes before it becomes a key.

A key file holds the format name and version, the scheme, the sizes, the key
material (and fields derived from it, written for readers of the file), the
origin, the salt of a seed-derived key, the creation time and the fingerprint.
Reading checks every field, rebuilds the key from its material and refuses the
file unless the fingerprint matches, so an edited or truncated file never loads.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keras_lie.errors import KeyFileError, KeyMismatchError
from keras_lie.io.atomic_files import is_url
from keras_lie.keys.key_classes import registered_key_class

if TYPE_CHECKING:
    from keras_lie.keys.base import Key

KEY_FORMAT = "keras-lie-key"
KEY_FORMAT_VERSION = 1
MAX_KEY_FILE_BYTES = 24 * 1024 * 1024  # above the largest key
# Where a key's material came from: only "random" keys are secrets worth the name.
KEY_ORIGINS = ("random", "seed", "reference")

_FINGERPRINT_PATTERN = re.compile(r"(sha256:)?[0-9a-f]{4}(:[0-9a-f]{4}){3}|(sha256:)?[0-9a-f]{64}")


def key_to_json(key: Key) -> str:
    """The text of `key`'s key file (what `Key.to_json` returns and `Key.save` writes)."""
    document = {
        "format": KEY_FORMAT,
        "version": KEY_FORMAT_VERSION,
        "scheme": key.scheme,
        "block_size": key.block_size,
        "channels": key.channels,
        **key.material(),
        **key._derived_fields(),
        "origin": key.origin,
        **({"salt": key.salt.hex()} if key.salt is not None else {}),
        "created": key.created,
        "fingerprint": "sha256:" + key.fingerprint,
    }
    return json.dumps(document, indent=1) + "\n"


def key_from_json(text: str, *, source: str = "<string>") -> Key:
    """The key in the text of a key file; `source` names the text in error messages."""
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


def as_key(key: Key | str | os.PathLike) -> Key:
    """The key given, or the key in the key file at that path: where keys enter keras-lie, the one place
    that tells the two apart.

    The public entry points (`keras_lie.encrypt`, the cipher layers, `make_pipeline`,
    `build_classifier`, the exporters) accept either and call this once; everything
    below them takes a `Key`.

    Raises:
        KeyFileError: neither a `Key` nor the path of a valid key file.
    """
    from keras_lie.keys.base import Key

    if isinstance(key, Key):
        return key
    return load_key(key)


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
    if is_url(path):
        raise KeyFileError(f"{path}: keys are loaded from local files; only the Beam pipeline (`keras-lie encrypt "
                           "--format tfds`) reads a key from an object store. Copy the key to a local file.")
    path = Path(path)
    data = _read_regular_file(path, MAX_KEY_FILE_BYTES, "key file")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFileError(f"{path} is not a keras-lie key (not a JSON text file).") from None
    key = key_from_json(text, source=str(path))
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


# -- reading a key document, one check at a time ---------------------------------------


def _key_from_document(document: Any, source: str) -> Key:
    _check_format(document, source)
    cls = _key_class_of(document, source)
    _check_fields(cls, document, source)
    key = _key_from_material(cls, document, source)
    _read_origin_and_salt(key, document, source)
    _check_integrity(key, document, source)
    return key


def _check_format(document: Any, source: str) -> None:
    """A keras-lie key document of the version this keras-lie reads."""
    if not isinstance(document, dict) or document.get("format") != KEY_FORMAT:
        raise KeyFileError(f"{source} is not a keras-lie key file (no 'format': '{KEY_FORMAT}').")
    version = document.get("version")
    if version != KEY_FORMAT_VERSION:
        raise KeyFileError(
            f"{source} has key format version {version!r}; this keras-lie reads version "
            f"{KEY_FORMAT_VERSION}. Upgrade keras-lie or regenerate the key."
        )


def _key_class_of(document: dict, source: str) -> type[Key]:
    scheme = document.get("scheme")
    cls = registered_key_class(scheme)
    if cls is None:
        raise KeyFileError(f"{source} names an unknown scheme {scheme!r}.")
    return cls


def _check_fields(cls: type[Key], document: dict, source: str) -> None:
    """Every field the scheme needs is present, and the sizes are integers."""
    for field in ("block_size", "channels", "fingerprint", *cls.material_fields):
        if field not in document:
            raise KeyFileError(f"{source} lacks the field {field!r}; the file is incomplete.")
    for field in ("block_size", "channels"):
        if type(document[field]) is not int:
            raise KeyFileError(f"{source}: {field} must be an integer, not {document[field]!r}.")


def _key_from_material(cls: type[Key], document: dict, source: str) -> Key:
    """The key the document's material makes, validated by the key class."""
    material = {field: document[field] for field in cls.material_fields}
    try:
        return cls._from_material(
            document["block_size"], document["channels"], material, document.get("created")
        )
    except (KeyFileError, KeyMismatchError) as error:
        raise KeyFileError(f"{source}: {error}") from None
    except (TypeError, ValueError) as error:
        raise KeyFileError(f"{source}: invalid key material ({error}).") from None


def _read_origin_and_salt(key: Key, document: dict, source: str) -> None:
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


def _check_integrity(key: Key, document: dict, source: str) -> None:
    """The derived fields and the fingerprint match the key the material makes: the file was not edited."""
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
