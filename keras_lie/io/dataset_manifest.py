"""The manifest that makes an encrypted image folder describe itself.

`keras-lie encrypt` on a folder writes `keras-lie-dataset.json` beside the
images: the scheme, block size, channels and key fingerprint (never the key),
the image size, class names and counts, and the keras-lie version. Loading the
folder as encrypted data reads it, a model trained on it records the
fingerprint, and evaluation refuses images of another encryption.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from keras_lie.errors import DatasetUnavailableError
from keras_lie.io.atomic_files import atomic_write_bytes, is_url
from keras_lie.version import __version__

MANIFEST_NAME = "keras-lie-dataset.json"
MANIFEST_FORMAT = "keras-lie-encrypted-dataset"
MANIFEST_VERSION = 1
_MAX_MANIFEST_BYTES = 16 * 1024 * 1024


@dataclasses.dataclass
class DatasetManifest:
    """What an encrypted folder holds.

    Attributes:
        scheme, block_size, channels: the encryption.
        key_fingerprint: the key's fingerprint (None for a plain "encryption").
        image_size: (H, W) when every image has it, else None.
        counts: per split ("" for a folder without splits), images per class.
        keras_lie_version: the version that wrote it.
        layout: "folder" (PNG files in class folders) or "tfds" (a TensorFlow
            Datasets directory of TFRecord shards, `keras-lie encrypt --format tfds`).
        shards: for "tfds", every shard file with its split, examples, bytes and SHA-256.
        failures: source files that could not be encrypted, each with why
            (they are counted here, never silently dropped).
    """

    scheme: str
    block_size: int
    channels: int
    key_fingerprint: str | None
    image_size: tuple[int, int] | None
    counts: dict[str, dict[str, int]]
    keras_lie_version: str = __version__
    layout: str = "folder"
    shards: list[dict] | None = None
    failures: list[dict] | None = None

    @property
    def class_names(self) -> list[str]:
        return sorted({name for split in self.counts.values() for name in split})

    def to_json(self) -> str:
        document = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, **dataclasses.asdict(self),
                    "class_names": self.class_names}
        return json.dumps(document, indent=1) + "\n"


def write_manifest(folder: str | os.PathLike, manifest: DatasetManifest) -> Path:
    """Write the manifest into `folder`, atomically (replacing an earlier one)."""
    return atomic_write_bytes(Path(folder) / MANIFEST_NAME, manifest.to_json().encode(), overwrite=True)


def read_manifest(folder: str | os.PathLike) -> DatasetManifest | None:
    """The manifest of an encrypted folder (or of the folder above a split folder); None if it has none.

    Raises:
        DatasetUnavailableError: the manifest exists but is not one keras-lie wrote.
    """
    if is_url(folder):  # a dataset on an object store (gs://...): TensorFlow's file systems reach it
        import tensorflow as tf

        location = f"{str(folder).rstrip('/')}/{MANIFEST_NAME}"
        if not tf.io.gfile.exists(location):
            return None
        if tf.io.gfile.stat(location).length > _MAX_MANIFEST_BYTES:
            raise _not_a_manifest(location, "far too large")
        with tf.io.gfile.GFile(location, "rb") as handle:
            return parse_manifest(handle.read(), location)
    folder = Path(folder)
    for candidate in (folder / MANIFEST_NAME, folder.parent / MANIFEST_NAME):
        if candidate.is_file():
            if candidate.stat().st_size > _MAX_MANIFEST_BYTES:
                raise _not_a_manifest(candidate, "far too large")
            return parse_manifest(candidate.read_bytes(), str(candidate))
    return None


def _not_a_manifest(where, why: str) -> DatasetUnavailableError:
    return DatasetUnavailableError(
        f"{where} is not a keras-lie dataset manifest ({why}); re-encrypt the folder with `keras-lie encrypt`."
    )


def parse_manifest(data: bytes, where: str) -> DatasetManifest:
    """The manifest in `data` (the bytes of the file at `where`, named in errors).

    Raises:
        DatasetUnavailableError: not a manifest keras-lie wrote, or of another version.
    """
    def bad(why: str) -> DatasetUnavailableError:
        return _not_a_manifest(where, why)

    if len(data) > _MAX_MANIFEST_BYTES:
        raise bad("far too large")
    try:
        document = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise bad("not valid JSON") from None
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        raise bad(f"no 'format': '{MANIFEST_FORMAT}'")
    if document.get("version") != MANIFEST_VERSION:
        raise bad(f"version {document.get('version')!r}; this keras-lie reads version {MANIFEST_VERSION}")
    try:
        size = document.get("image_size")
        return DatasetManifest(
            scheme=str(document["scheme"]), block_size=int(document["block_size"]),
            channels=int(document["channels"]), key_fingerprint=document.get("key_fingerprint"),
            image_size=tuple(int(v) for v in size) if size else None,
            counts={str(s): {str(c): int(n) for c, n in classes.items()} for s, classes in document["counts"].items()},
            keras_lie_version=str(document.get("keras_lie_version", "")),
            layout=str(document.get("layout", "folder")),
            shards=[dict(shard) for shard in document["shards"]] if document.get("shards") else None,
            failures=[dict(failure) for failure in document["failures"]] if document.get("failures") else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise bad(f"missing or malformed field: {error}") from None
