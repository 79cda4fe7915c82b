"""Atomic, permission-aware file writing shared by keys and image files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from keras_lie.errors import KerasLieError


def atomic_write_bytes(
    path: str | os.PathLike, data: bytes, *, mode: int = 0o644, overwrite: bool = False
) -> Path:
    """Write `data` to `path` so that the file is either complete or absent.

    The bytes go to a temporary file in the same folder (same file system, so
    the final `os.replace` is atomic), which is created with `mode` from the
    start: a secret is never readable by others, not even for a moment.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists; refusing to overwrite it "
            "(choose another path, or pass overwrite=True / --force)."
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise KerasLieError(f"Folder {folder} does not exist; create it first.")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return path
