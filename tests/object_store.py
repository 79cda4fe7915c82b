"""A stand-in object store for tests: `ram://` paths, seen by Beam, TensorFlow and TFDS alike.

TensorFlow's own in-memory file system (`ram://`) holds the bytes; a Beam
`FileSystem` with the scheme "ram" (an object store: no directories, listing by
prefix) and epath's gs://-style path class make Beam's `FileSystems`,
`tf.io.gfile` and `tfds.builder_from_directory` reach the same objects, as they
all reach gs:// in production. Nothing leaves the process.
"""

from __future__ import annotations

import io
import posixpath

import tensorflow as tf
from apache_beam.io.filesystem import BeamIOError, CompressedFile, CompressionTypes, FileMetadata, FileSystem


class RamObjectStore(FileSystem):
    """Beam's view of `ram://` (registered by being defined: Beam finds file systems by subclass and scheme)."""

    @classmethod
    def scheme(cls):
        return "ram"

    def join(self, basepath, *paths):
        return posixpath.join(basepath, *paths)

    def split(self, path):
        return posixpath.split(path)

    def has_dirs(self):
        return False

    def mkdirs(self, path):
        pass

    def _list(self, dir_or_prefix):
        root = dir_or_prefix.rstrip("/")
        if not tf.io.gfile.exists(root):
            return
        if not tf.io.gfile.isdir(root):
            yield FileMetadata(root, tf.io.gfile.stat(root).length)
            return
        for folder, _, files in tf.io.gfile.walk(root):
            for name in files:
                path = posixpath.join(folder, name)
                yield FileMetadata(path, tf.io.gfile.stat(path).length)

    def create(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        tf.io.gfile.makedirs(posixpath.dirname(path))
        return _wrap(tf.io.gfile.GFile(path, "wb"), path, compression_type)

    def open(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        if not tf.io.gfile.exists(path):
            raise BeamIOError(f"{path} not found", {path: FileNotFoundError(path)})
        return _wrap(io.BytesIO(tf.io.gfile.GFile(path, "rb").read()), path, compression_type)

    def copy(self, source_file_names, destination_file_names):
        for source, destination in zip(source_file_names, destination_file_names, strict=True):
            tf.io.gfile.copy(source, destination, overwrite=True)

    def rename(self, source_file_names, destination_file_names):
        for source, destination in zip(source_file_names, destination_file_names, strict=True):
            tf.io.gfile.rename(source, destination, overwrite=True)

    def exists(self, path):
        return tf.io.gfile.exists(path)

    def size(self, path):
        return tf.io.gfile.stat(path).length

    def last_updated(self, path):
        return tf.io.gfile.stat(path).mtime_nsec / 1e9

    def checksum(self, path):
        return str(self.size(path))

    def metadata(self, path):
        return FileMetadata(path, self.size(path), self.last_updated(path))

    def delete(self, paths):
        for path in paths:
            if tf.io.gfile.isdir(path):
                tf.io.gfile.rmtree(path)
            elif tf.io.gfile.exists(path):
                tf.io.gfile.remove(path)


def _wrap(handle, path, compression_type):
    if compression_type == CompressionTypes.AUTO:
        compression_type = CompressionTypes.detect_compression_type(path)
    if compression_type == CompressionTypes.UNCOMPRESSED:
        return handle
    return CompressedFile(handle, compression_type)


def let_tfds_read_ram() -> None:
    """Make epath (and so TFDS) treat `ram://` as it treats gs://: through tf.io.gfile."""
    from etils.epath import backend, gpath, register

    gpath._URI_PREFIXES = (*gpath._URI_PREFIXES, "ram://") if "ram://" not in gpath._URI_PREFIXES \
        else gpath._URI_PREFIXES
    gpath._URI_SCHEMES = gpath._URI_SCHEMES | {"ram"}
    gpath._URI_MAP_ROOT.setdefault("ram://", "/ram/")
    gpath._PREFIX_TO_BACKEND.setdefault("ram", backend.tf_backend)
    register._URI_PREFIXES_TO_CLS.setdefault("ram://", gpath.PosixGPath)


def upload(local_root, url: str) -> None:
    """Copy a local folder tree to `url` (the test's bucket)."""
    import pathlib

    for path in pathlib.Path(local_root).rglob("*"):
        if path.is_file():
            target = posixpath.join(url, path.relative_to(local_root).as_posix())
            tf.io.gfile.makedirs(posixpath.dirname(target))
            tf.io.gfile.GFile(target, "wb").write(path.read_bytes())
