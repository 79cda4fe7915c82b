"""Files for the Beam pipeline: local paths and any file system Beam knows (gs://, s3://, ... as installed).

A local path is read and written with the local file system's own guarantees
(atomic renames); a URL through Beam's `FileSystems`, which reaches object
stores on the holder's machine and on every worker alike. An object store has
no folders and no atomic rename of one, so a dataset written there is built in
place and made to look complete by its last file (see `beam_pipeline`).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from typing import BinaryIO

from keras_lie.errors import KerasLieError
from keras_lie.io.atomic_files import atomic_write_bytes, is_url


def join(root: str, *names: str) -> str:
    return posixpath.join(root, *names) if is_url(root) else os.path.join(root, *names)


def _filesystems():
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


def exists(location: str) -> bool:
    if not is_url(location):
        return os.path.exists(location)
    return _filesystems().exists(location)


def list_files(root: str) -> list[str]:
    """Every file under `root` (a folder or a prefix), as paths relative to it, '/'-separated."""
    if not is_url(root):
        return sorted(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
                      for folder, _, names in os.walk(root) for name in names)
    prefix = root.rstrip("/") + "/"
    try:
        matched = _filesystems().match([prefix + "**"])[0].metadata_list
    except Exception as error:  # noqa: BLE001 - Beam wraps each file system's own errors
        raise KerasLieError(f"Cannot list {root}: {error}") from None
    return sorted(item.path[len(prefix):] for item in matched if item.path.startswith(prefix))


def open_for_reading(location: str) -> BinaryIO:
    if not is_url(location):
        return open(location, "rb")
    from apache_beam.io.filesystem import CompressionTypes

    return _filesystems().open(location, compression_type=CompressionTypes.UNCOMPRESSED)


def open_for_writing(location: str) -> BinaryIO:
    """A new file (the caller writes it whole; on an object store it appears when closed)."""
    if not is_url(location):
        os.makedirs(os.path.dirname(location), exist_ok=True)
        return open(location, "wb")
    from apache_beam.io.filesystem import CompressionTypes

    return _filesystems().create(location, compression_type=CompressionTypes.UNCOMPRESSED)


def read_bytes(location: str, limit: int | None = None) -> bytes:
    """The file's bytes, or its first `limit` bytes."""
    with open_for_reading(location) as handle:
        return handle.read(limit) if limit is not None else handle.read()


def write_bytes(location: str, data: bytes) -> None:
    """Write a small file whole (atomically on a local disk; an object appears whole when closed)."""
    if not is_url(location):
        atomic_write_bytes(location, data, overwrite=True)
        return
    with open_for_writing(location) as handle:
        handle.write(data)


def copy_from_local(local_path: str, location: str) -> None:
    with open(local_path, "rb") as source, open_for_writing(location) as target:
        shutil.copyfileobj(source, target, 1 << 20)


def delete(locations: list[str]) -> None:
    """Delete files (those already gone are skipped)."""
    if not locations:
        return
    if not is_url(locations[0]):
        for location in locations:
            if os.path.exists(location):
                os.unlink(location)
        return
    present = [location for location in locations if exists(location)]
    if present:
        _filesystems().delete(present)


def delete_tree(root: str) -> None:
    """Delete a folder, or every object under a prefix."""
    if not is_url(root):
        shutil.rmtree(root, ignore_errors=True)
        return
    delete([join(root, name) for name in list_files(root)])


def local_scratch() -> tempfile.TemporaryDirectory:
    """A private local folder for files built here and then copied to their place (0o700, removed after)."""
    return tempfile.TemporaryDirectory(prefix="keras-lie-")
