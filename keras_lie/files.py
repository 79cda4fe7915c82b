"""Encrypting and decrypting image files and folder trees.

Output is always PNG: encrypted content lives in every bit of every byte, and a
lossy format (JPEG) would destroy it. Inputs are never overwritten, and each
output is written to a temporary name and renamed, so a failure leaves no
half-written file.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_lie._files import atomic_write_bytes
from keras_lie.errors import ImageFileError, KerasLieError
from keras_lie.keys import Key
from keras_lie.schemes import Scheme, get_scheme

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
LOSSY_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".heic", ".avif")


@dataclasses.dataclass
class FileReport:
    """What `transform_path` did: files written, and the files that failed with why."""

    written: list[Path] = dataclasses.field(default_factory=list)
    failures: list[tuple[Path, str]] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to a uint8 array (H, W, C); C is the file's own channel count."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImageFileError(f"{path}: cannot read ({error.strerror}).") from None
    try:
        image = tf.io.decode_image(data, channels=0, dtype=tf.uint8, expand_animations=False)
    except (tf.errors.InvalidArgumentError, ValueError):
        raise ImageFileError(f"{path}: not a readable PNG, JPEG, BMP or GIF image.") from None
    return image.numpy()


def write_png(path: str | os.PathLike, image: np.ndarray, *, overwrite: bool = False) -> Path:
    """Write a uint8 (H, W, C) image losslessly as PNG, atomically."""
    path = Path(path)
    check_output_path(path)
    data = tf.io.encode_png(tf.convert_to_tensor(image, tf.uint8)).numpy()
    return atomic_write_bytes(path, data, overwrite=overwrite)


def check_output_path(path: Path) -> None:
    """Refuse output paths that are not PNG (lossy formats destroy encrypted content)."""
    suffix = path.suffix.lower()
    if suffix in LOSSY_SUFFIXES:
        raise ImageFileError(
            f"{path}: refusing to write {suffix} output. Lossy compression changes the "
            "encrypted bytes, so the image could no longer be decrypted or learned from; "
            "use a .png file name."
        )
    if suffix != ".png":
        raise ImageFileError(f"{path}: output images are PNG; give a file name ending in .png.")


def transform_path(
    source: str | os.PathLike,
    destination: str | os.PathLike,
    key: Key | Scheme,
    direction: str = "encrypt",
    *,
    padding: str = "error",
    overwrite: bool = False,
    progress: bool = False,
) -> FileReport:
    """Encrypt or decrypt an image file, or every image of a folder tree, into PNG files.

    A file goes to `destination` (a .png path, or an existing folder). A folder
    tree is mirrored under the `destination` folder with its sub-folders (class
    folders) kept and every file renamed to .png. Files that fail (unreadable,
    wrong channel count or size) are listed in the report with the reason; the
    others are still written.

    Raises:
        ImageFileError: for a problem with the paths themselves (missing source,
            lossy output name, output inside the input tree).
    """
    scheme = key if isinstance(key, Scheme) else get_scheme(key)
    if direction not in ("encrypt", "decrypt"):
        raise ValueError(f"direction must be 'encrypt' or 'decrypt', not {direction!r}.")
    source, destination = Path(source), Path(destination)
    if not source.exists():
        raise ImageFileError(f"{source} does not exist.")
    if source.is_dir():
        pairs = _folder_pairs(source, destination)
    else:
        target = destination / f"{source.stem}.png" if destination.is_dir() else destination
        check_output_path(target)
        pairs = [(source, target)]
    report = FileReport()
    bar = None
    if progress and len(pairs) > 1:
        import keras

        bar = keras.utils.Progbar(len(pairs), unit_name="image")
    for count, (input_path, output_path) in enumerate(pairs, 1):
        try:
            _transform_file(scheme, direction, input_path, output_path, padding, overwrite)
            report.written.append(output_path)
        except (KerasLieError, FileExistsError, OSError) as error:
            report.failures.append((input_path, str(error)))
        if bar is not None:
            bar.update(count)
    return report


def _transform_file(scheme, direction, input_path, output_path, padding, overwrite):
    if output_path.exists() and output_path.resolve() == input_path.resolve():
        raise ImageFileError(f"{output_path}: output would overwrite its input; choose another path.")
    image = read_image(input_path)
    if image.shape[-1] != scheme.channels:
        raise ImageFileError(
            f"{input_path}: has {image.shape[-1]} channels but the key is for {scheme.channels}; "
            "convert the image (e.g. to RGB) or use a key made for this channel count."
        )
    try:
        result = getattr(scheme, direction)(image, padding=padding)
    except KerasLieError as error:
        raise ImageFileError(f"{input_path}: {error}") from None
    output_path.parent.mkdir(parents=True, exist_ok=True)
    write_png(output_path, result, overwrite=overwrite)


def _folder_pairs(source: Path, destination: Path) -> list[tuple[Path, Path]]:
    source_resolved, destination_resolved = source.resolve(), destination.resolve()
    if destination_resolved == source_resolved or source_resolved in destination_resolved.parents:
        raise ImageFileError(
            f"The output folder {destination} is inside the input folder {source}; "
            "choose an output folder outside it."
        )
    if destination.exists() and not destination.is_dir():
        raise ImageFileError(f"{destination} is a file; the output of a folder must be a folder.")
    inputs = sorted(
        path for path in source.rglob("*")
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    )
    if not inputs:
        raise ImageFileError(
            f"{source} holds no image files ({', '.join(IMAGE_SUFFIXES)})."
        )
    pairs, seen = [], {}
    for path in inputs:
        target = destination / path.relative_to(source).with_suffix(".png")
        if target in seen:
            raise ImageFileError(
                f"{seen[target]} and {path} would both be written to {target}; rename one."
            )
        seen[target] = path
        pairs.append((path, target))
    return pairs
