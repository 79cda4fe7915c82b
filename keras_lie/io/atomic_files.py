"""Atomic, permission-aware file writing shared by keys and image files."""

from __future__ import annotations

import concurrent.futures
import os
import re
import secrets
import shutil
import stat
from pathlib import Path

from keras_lie.errors import KerasLieError

# The image files keras-lie reads (folders, zips, `encrypt`/`decrypt`); it writes PNG only.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# A file created here, never an existing one or through a symbolic link.
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
# The temporary files of `atomic_write_bytes`/`atomic_write_batch`: the target's name hidden, 12 hex digits.
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")
# A URL of a file system other than the local one (gs://bucket/x); two characters at least: "C:/x" is local.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")
# Why an image with an alpha channel is refused (the one channel rule of `encrypt` and training data).
ALPHA_ADVICE = ("it has an alpha channel, which would be dropped; flatten it onto a background first "
                "(e.g. `magick in.png -background white -alpha remove out.png`)")


def is_url(location: str | os.PathLike) -> bool:
    """Whether `location` is a URL (gs://bucket/x, s3://..., ...) rather than a local path."""
    return bool(_URL.match(str(location)))


def atomic_write_bytes(
    path: str | os.PathLike, data: bytes, *, mode: int = 0o666, overwrite: bool = False
) -> Path:
    """Write `data` to `path` so that the file is either complete or absent.

    The bytes go to a temporary file in the same folder (same file system, so
    the final `os.replace` is atomic), which is created with `mode` from the
    start and, like any file the user creates, narrowed by the process umask:
    never wider than the user asked for. Secrets pass `mode=0o600`, so they are
    never readable by others, not even for a moment.
    A file it replaces keeps its narrower permissions (a manifest the user made
    private stays private when a resumed run rewrites it).

    Raises:
        FileExistsError: `path` exists and `overwrite` is False.
    """
    path = Path(path)
    folder, mode = _target(path, overwrite, mode)
    fd, tmp_name = _create_temporary(folder, path.name, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        _remove(tmp_name)
        raise
    return path


def atomic_write_batch(
    items: list[tuple[str | os.PathLike, bytes]], *, mode: int = 0o666, overwrite: bool = False,
    executor: concurrent.futures.Executor | None = None,
) -> list[BaseException | None]:
    """Write many files, each complete or absent, with one sync for all of them.

    The same guarantees as `atomic_write_bytes` (temporary file created with
    `mode` through the umask, then renamed), but the data of every file reaches
    the disk with one `os.sync()` before any is renamed, instead of one fsync per
    file: what makes writing thousands of small images fast. `executor` writes
    the temporary files in parallel. Returns, per item, None or the exception
    that stopped that file (the others are still written).
    """

    def stage(item):
        path, data = Path(item[0]), item[1]
        tmp_name = None
        try:
            folder, file_mode = _target(path, overwrite, mode)
            fd, tmp_name = _create_temporary(folder, path.name, file_mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            return tmp_name, None
        except BaseException as error:
            if tmp_name is not None:
                _remove(tmp_name)
            if isinstance(error, (OSError, KerasLieError)):
                return None, error
            raise

    if executor is None:
        executor = _InlineExecutor()
    futures: list[concurrent.futures.Future] = []
    renamed = 0
    try:
        for item in items:
            futures.append(executor.submit(stage, item))
        staged = [future.result() for future in futures]
        outcomes: list[BaseException | None] = [error for _, error in staged]
        if any(tmp_name for tmp_name, _ in staged):
            os.sync()
        for index, ((tmp_name, _), (path, _)) in enumerate(zip(staged, items, strict=True)):
            if tmp_name is not None:
                try:
                    os.replace(tmp_name, path)
                except OSError as error:
                    outcomes[index] = error
                    _remove(tmp_name)
            renamed = index + 1
    except BaseException:
        # Interrupted (Ctrl-C): take back every temporary file not yet renamed, so none is left behind.
        for future in futures:
            future.cancel()
        concurrent.futures.wait(futures)
        for future in futures[renamed:]:
            if not future.cancelled() and future.exception() is None and future.result()[0]:
                _remove(future.result()[0])
        raise
    return outcomes


class _InlineExecutor(concurrent.futures.Executor):
    """Runs each task at once in the calling thread (the executor of `atomic_write_batch` without one)."""

    def submit(self, function, /, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(function(*args, **kwargs))
        except BaseException as error:
            future.set_exception(error)
            if not isinstance(error, Exception):
                raise
        return future


def is_own_temporary(name: str) -> bool:
    """Whether a file name is one of `atomic_write_*`'s temporary files (`.NAME.<12 hex>.tmp`)."""
    return _TEMPORARY.fullmatch(name) is not None


def write_new_files(
    items: list[tuple[str | os.PathLike, bytes]], *, mode: int = 0o666,
    executor: concurrent.futures.Executor | None = None,
) -> list[BaseException | None]:
    """Write files into a folder that nobody sees yet (see `create_staging_folder`).

    Inside a staging folder no reader can meet a half-written file, so each file
    is created under its own name (exclusively, with `mode` through the umask)
    instead of a temporary name plus a rename: half the file-system operations
    of `atomic_write_batch`. A file that fails part-way is removed. Returns, per
    item, None or the exception that stopped that file.
    """

    def write(item):
        path, data = item
        created = False
        try:
            fd = os.open(path, _NEW_FILE, mode)
            created = True
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            return None
        except OSError as error:
            if created:
                _remove(str(path))
            return error

    return list(executor.map(write, items) if executor is not None else map(write, items))


def create_staging_folder(destination: str | os.PathLike) -> Path:
    """A new hidden folder beside `destination`, to build a whole tree in before `publish_folder`.

    Created, with any missing parent folders, with mode 0o777 through the
    umask, like any folder the user makes.
    """
    destination = Path(destination)
    parent = destination.parent if str(destination.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        staging = parent / f".{destination.name}.{secrets.token_hex(6)}.partial"
        try:
            os.mkdir(staging, 0o777)
            return staging
        except FileExistsError:
            continue
    raise FileExistsError(f"Could not create a staging folder in {parent}.")


def stale_staging_folders(destination: str | os.PathLike) -> list[Path]:
    """The staging folders `create_staging_folder(destination)` made that are still there (a killed run's)."""
    destination = Path(destination)
    parent = destination.parent if str(destination.parent) else Path(".")
    name = re.compile(rf"\.{re.escape(destination.name)}\.[0-9a-f]{{12}}\.partial")
    return [path for path in parent.glob(f".{destination.name}.*.partial")
            if name.fullmatch(path.name) and path.is_dir()]


def publish_folder(staging: Path, destination: str | os.PathLike) -> Path:
    """Make a staged tree appear at `destination` whole: one sync, then one rename.

    Raises:
        KerasLieError: `destination` was created (and filled) meanwhile; the
            staged tree is kept and named, so nothing is lost.
    """
    destination = Path(destination)
    os.sync()  # the data of every staged file reaches the disk before the tree becomes visible
    try:
        os.rename(staging, destination)  # replaces at most an empty folder
    except OSError as error:
        raise KerasLieError(
            f"{destination} appeared while it was being written ({error.strerror}); the complete output "
            f"is in {staging}: move its contents where they belong, or rename that folder."
        ) from None
    return destination


def discard_folder(staging: Path) -> None:
    """Remove a staging folder that will not be published."""
    shutil.rmtree(staging, ignore_errors=True)


def _target(path: Path, overwrite: bool, mode: int) -> tuple[Path, int]:
    """The folder to write `path` in and the mode to create it with, from one look at `path`.

    Refuses an existing file (unless `overwrite`) or a missing folder. A file being replaced
    narrows `mode` to its own permissions: overwriting never widens who can read it.
    """
    try:
        existing = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:  # nothing there yet (or unreadable metadata): the mode asked for, through the umask
        existing = None
    if existing is not None and not overwrite:
        raise FileExistsError(
            f"{path} already exists; refusing to overwrite it "
            "(choose another path, or pass overwrite=True / --overwrite)."
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise KerasLieError(f"Folder {folder} does not exist; create it first.")
    return folder, mode if existing is None else mode & existing


def _remove(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


def _create_temporary(folder: Path, name: str, mode: int) -> tuple[int, str]:
    """A new file beside the target, created with `mode` (the kernel applies the umask)."""
    for _ in range(100):
        tmp_name = str(folder / f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp_name, _NEW_FILE, mode), tmp_name
        except FileExistsError:
            continue
    raise FileExistsError(f"Could not create a temporary file in {folder}.")
