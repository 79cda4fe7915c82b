"""Encrypting and decrypting image files and folder trees.

Output is always PNG: encrypted content lives in every bit of every byte, and a
lossy format (JPEG) would destroy it. Inputs are never overwritten, and each
output is written to a temporary name and renamed, so a failure leaves no
half-written file.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_lie.errors import ImageFileError, KerasLieError, KeyMismatchError
from keras_lie.io.atomic_files import (
    ALPHA_ADVICE,
    IMAGE_SUFFIXES,
    atomic_write_batch,
    atomic_write_bytes,
    create_staging_folder,
    discard_folder,
    is_own_temporary,
    is_url,
    publish_folder,
    write_new_files,
)
from keras_lie.io.dataset_manifest import MANIFEST_NAME, DatasetManifest, read_manifest, write_manifest
from keras_lie.keys import Key, short_fingerprint
from keras_lie.schemes import Scheme, get_scheme

LOSSY_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".heic", ".avif")
# Generous for photos (a 50-megapixel camera); decoding needs about 100 bytes per pixel.
DEFAULT_MAX_PIXELS = 50_000_000


@dataclasses.dataclass
class FileReport:
    """What `transform_path` did: files written, and the files that failed with why."""

    written: list[Path] = dataclasses.field(default_factory=list)
    failures: list[tuple[Path, str]] = dataclasses.field(default_factory=list)
    manifest: Path | None = None  # the dataset manifest written for an encrypted folder
    skipped: list[Path] = dataclasses.field(default_factory=list)  # files of a folder that are not images
    resumed: list[Path] = dataclasses.field(default_factory=list)  # outputs already complete (resume=True)
    removed_temporaries: int = 0  # stale temporary files of an interrupted run removed (resume=True)
    jpeg_inputs: int = 0  # JPEG files encrypted: their pixels are TensorFlow's decoding of them

    @property
    def jpeg_note(self) -> str | None:
        """What decrypting JPEG-sourced outputs gives back, when there were any."""
        if not self.jpeg_inputs:
            return None
        return (f"{self.jpeg_inputs} JPEG input(s) were decoded by TensorFlow (libjpeg-turbo); decrypting gives "
                "back those pixels exactly, which can differ by a few levels from another program's decoding of "
                "the same JPEG (Pillow's, say). Compare against read_image(), or keep PNG sources.")

    @property
    def ok(self) -> bool:
        return not self.failures


def read_image(path: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an image file to a uint8 array (H, W, C); C is the file's own channel count.

    The size is read from the file's header before anything is decoded, and
    images over `max_pixels` (None: no limit) are refused. Files whose pixels an
    8-bit (H, W, C) array cannot hold exactly are refused with how to convert
    them, instead of being changed silently: 16-bit PNGs and animated GIFs.

    Raises:
        ImageFileError: unreadable, too large, or not exactly representable.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImageFileError(f"{path}: cannot read ({error.strerror}).") from None
    return decode_image(data, str(path), max_pixels=max_pixels)


def decode_image(data: bytes, name: str, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """`read_image` for the bytes of an image file; `name` names it in errors."""
    path = name
    header = image_header(data)
    if header is not None:
        width, height, bit_depth = header
        if max_pixels is not None and width * height > max_pixels:
            raise ImageFileError(
                f"{path}: {width} x {height} is {width * height:,} pixels, over the limit of {max_pixels:,}; "
                "scale it down, cut it into tiles, or raise the limit (max_pixels=, --max-pixels) if the "
                "machine has the memory (about 100 bytes per pixel)."
            )
        if bit_depth == 16:
            raise ImageFileError(
                f"{path}: a 16-bit PNG; encrypting it as 8 bits would lose its lower byte. Convert it to "
                "8 bits per channel first (e.g. `magick in.png -depth 8 out.png`)."
            )
    try:
        image = tf.io.decode_image(data, channels=0, dtype=tf.uint8, expand_animations=True)
    except (tf.errors.InvalidArgumentError, ValueError):
        raise ImageFileError(f"{path}: not a readable PNG, JPEG, BMP or GIF image.") from None
    except (tf.errors.ResourceExhaustedError, MemoryError):
        raise ImageFileError(f"{path}: not enough memory to decode it; scale it down or cut it into tiles.") from None
    if image.shape.rank == 4:  # GIF
        if image.shape[0] != 1:
            raise ImageFileError(
                f"{path}: an animated GIF of {image.shape[0]} frames; only its first frame would be encrypted. "
                "Extract the frames as PNG files and encrypt those."
            )
        image = image[0]
    return image.numpy()


def image_header(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, bits per channel) from a PNG, GIF, BMP or JPEG header; None if not recognised."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 26 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return width, height, data[24]
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height, 8
    if data[:2] == b"BM" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height), 8
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int, int] | None:
    """Walk the JPEG markers to the first start-of-frame."""
    position = 2
    while position + 9 < len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        length = struct.unpack(">H", data[position + 2 : position + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            precision, height, width = data[position + 4], *struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height, precision
        position += 2 + length
    return None


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
    resume: bool = False,
    progress: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> FileReport:
    """Encrypt or decrypt an image file, or every image of a folder tree, into PNG files.

    A file goes to `destination` (a .png path, or an existing folder). A folder
    tree is mirrored under the `destination` folder with its sub-folders (class
    folders) kept and every file renamed to .png; a `destination` folder that does
    not exist yet is built hidden beside it and appears whole, in one rename, when
    the run ends (on an error or interrupt it never appears). Files that fail (unreadable,
    wrong channel count or size, over `max_pixels`, out of memory) are listed in
    the report with the reason; the others are still written. Encrypting with a
    `plain` key warns (`UserWarning`): it hides nothing.

    Into an existing folder that already holds some of the outputs (an earlier
    run, perhaps interrupted), nothing is written unless `resume` (write only
    the missing outputs, keep those that are complete, remove the interrupted
    run's temporary files) or `overwrite` (write them all again). The manifest
    of an encrypted folder then describes every output of the source, not just
    this run's.

    Raises:
        ImageFileError: for a problem with the paths themselves (missing source,
            lossy output name, output inside the input tree), or outputs that
            exist without `resume` or `overwrite`.
        KeyMismatchError: resuming into a folder encrypted with another key.
    """
    scheme = key if isinstance(key, Scheme) else get_scheme(key)
    if direction not in ("encrypt", "decrypt"):
        raise ValueError(f"direction must be 'encrypt' or 'decrypt', not {direction!r}.")
    if direction == "encrypt" and scheme.name == "plain":
        warnings.warn("The key is a 'plain' key: the output is the input, unencrypted; it hides nothing.",
                      UserWarning, stacklevel=2)
    for location in (source, destination):
        if is_url(location):
            raise ImageFileError(
                f"{location}: folders of PNG files are read and written on local disks. Write a TFDS dataset to an "
                "object store instead (`keras-lie encrypt --format tfds`, keras_lie.shards.encrypt_to_tfds)."
            )
    source, destination = Path(source), Path(destination)
    if not source.exists():
        raise ImageFileError(f"{source} does not exist.")
    check_source_manifest(source, scheme, direction)
    skipped: list[Path] = []
    if source.is_dir():
        pairs = _folder_pairs(source, destination, skipped)
    else:
        if source.suffix.lower() not in IMAGE_SUFFIXES:
            raise ImageFileError(
                f"{source} is not an image file ({', '.join(IMAGE_SUFFIXES)}) or a folder; to encrypt a zip of "
                "class folders, extract it first (training reads zips directly: --data FILE.zip)."
            )
        target = destination / f"{source.stem}.png" if destination.is_dir() else destination
        check_output_path(target)
        pairs = [(source, target)]
    report = FileReport(skipped=skipped)
    if direction == "encrypt":
        report.jpeg_inputs = sum(path.suffix.lower() in (".jpg", ".jpeg") for path, _ in pairs)
    sizes: dict[Path, tuple[int, int]] = {}
    if source.is_dir() and destination.is_dir() and not overwrite:
        pairs = _pairs_to_write(scheme, direction, destination, pairs, padding, resume, report, sizes)
    bar = None
    if progress and len(pairs) > 1:
        import keras

        bar = keras.utils.Progbar(len(pairs), unit_name="image")
    if not (source.is_dir() and not destination.exists()):
        write = functools.partial(atomic_write_batch, overwrite=overwrite)
        sizes.update(_transform_pairs(scheme, direction, pairs, padding, max_pixels, report, bar, write))
        outputs = report.resumed + report.written
        if source.is_dir() and direction == "encrypt" and outputs:
            report.manifest = write_manifest(destination, _manifest(scheme, destination, outputs, sizes))
        return report
    # A new output folder is built hidden beside its place and appears whole, by one rename:
    # no temporary name per file, and never a half-made tree under the name the user gave.
    staging = create_staging_folder(destination)
    try:
        staged = [(input_path, staging / output_path.relative_to(destination)) for input_path, output_path in pairs]
        sizes = _transform_pairs(scheme, direction, staged, padding, max_pixels, report, bar, write_new_files)
        if not report.written:
            discard_folder(staging)
            return report
        if direction == "encrypt":
            write_manifest(staging, _manifest(scheme, staging, report.written, sizes))
            report.manifest = destination / MANIFEST_NAME
    except BaseException:
        discard_folder(staging)
        raise
    publish_folder(staging, destination)  # on failure it keeps the staged tree and names it
    report.written = [destination / path.relative_to(staging) for path in report.written]
    return report


def check_source_manifest(source: Path, scheme: Scheme, direction: str) -> None:
    """Refuse, before anything is written, what an encrypted folder's manifest says would go wrong.

    Decrypting with a key other than the one the folder records would write noise
    under plain-looking names; encrypting an encrypted folder again would write a
    manifest that describes one layer where there are two.

    Raises:
        KeyMismatchError: decrypting with another key than the folder's.
        ImageFileError: encrypting a folder (or a file in one) that is already encrypted.
    """
    # A file sits in a class folder, in a split folder, under the manifest's folder.
    folder = source if source.is_dir() else source.parent
    manifest = read_manifest(folder) or (None if source.is_dir() else read_manifest(folder.parent))
    if manifest is not None:
        check_against_manifest(manifest, str(source), scheme, direction)


def check_against_manifest(manifest: DatasetManifest, source: str, scheme: Scheme, direction: str) -> None:
    """`check_source_manifest`'s rules, for a manifest already read (from a local folder or an object store)."""
    recorded = manifest.key_fingerprint
    where = f"{source} (scheme {manifest.scheme}, key {short_fingerprint(recorded) if recorded else 'none'})"
    if direction == "encrypt" and manifest.scheme != "plain":
        raise ImageFileError(
            f"{where} is already encrypted; encrypting it again would hide nothing more from the attacks and "
            "describe the result wrongly. Encrypt the plain source folder, or decrypt this one first with its key."
        )
    if direction == "decrypt" and recorded is not None and recorded != scheme.key.fingerprint:
        raise KeyMismatchError(
            f"{where} was encrypted with key {recorded}, not with the key given ({scheme.key.fingerprint}); "
            "decrypting with it would write noise. Give the key the folder was made with "
            "(`keras-lie key-info KEY` prints a key's fingerprint)."
        )


def _pairs_to_write(scheme, direction, destination, pairs, padding, resume, report, sizes) -> list:
    """The pairs whose output is still to be written into the existing folder `destination`.

    Without `resume`, outputs that exist stop the run with one line that says how
    many and what to do. With it, outputs whose header has the size this run
    would write are kept (each was written whole, by a rename), the folder's
    manifest must name the same key, and the stale temporary files of an
    interrupted run are removed.
    """
    existing = [pair for pair in pairs if pair[1].exists()]
    if not resume:
        if existing:
            raise ImageFileError(
                f"{len(existing)} of the {len(pairs)} outputs already exist in {destination} (an earlier run, "
                "perhaps interrupted, wrote them). Add --resume (resume=True) to write only the missing ones, "
                "or --overwrite (overwrite=True) to write them all again."
            )
        return pairs
    manifest = read_manifest(destination) if direction == "encrypt" else None
    if manifest is not None and manifest.key_fingerprint not in (None, scheme.key.fingerprint):
        raise KeyMismatchError(
            f"{destination} was encrypted with key {manifest.key_fingerprint}, not with the key given "
            f"({scheme.key.fingerprint}); resuming would mix two keys in one folder. Give the key it was "
            "made with, or encrypt into a new folder."
        )
    for path in destination.rglob(".*"):
        if path.is_file() and is_own_temporary(path.name):
            path.unlink(missing_ok=True)
            report.removed_temporaries += 1
    remaining, existing = [], set(existing)
    for pair in pairs:
        size = _complete_output_size(scheme, direction, pair, padding) if pair in existing else None
        if size is None:
            remaining.append(pair)
        else:
            report.resumed.append(pair[1])
            sizes[pair[1]] = size
    return remaining


def _complete_output_size(scheme, direction, pair, padding) -> tuple[int, int] | None:
    """(H, W) of an existing output that matches what this run would write from its input; else None."""
    input_path, output_path = pair
    try:
        with open(input_path, "rb") as handle:
            source_start = handle.read(1 << 16)
            source_header = image_header(source_start)
        with open(output_path, "rb") as handle:
            output_header = image_header(handle.read(64))
    except OSError:
        return None
    if source_header is None or output_header is None:
        return None
    (width, height, _), (out_width, out_height, _) = source_header, output_header
    if direction == "encrypt" and padding != "error":
        height, width = scheme.padded_shape(height, width)
    if direction == "decrypt":
        height, width = recorded_original_size(source_start) or (height, width)
    return (out_height, out_width) if (out_height, out_width) == (height, width) else None


def _manifest(scheme: Scheme, root: Path, written: list[Path], sizes: dict) -> DatasetManifest:
    counts: dict[str, dict[str, int]] = {}
    for path in written:
        parts = path.relative_to(root).parts
        split = parts[0] if len(parts) >= 3 else ""
        label = parts[-2] if len(parts) >= 2 else ""
        counts.setdefault(split, {}).setdefault(label, 0)
        counts[split][label] += 1
    distinct = {sizes[path] for path in written}
    key = scheme.key
    return DatasetManifest(
        scheme=key.scheme, block_size=key.block_size, channels=key.channels,
        key_fingerprint=key.fingerprint if key.scheme != "plain" else None,
        image_size=distinct.pop() if len(distinct) == 1 else None, counts=counts,
    )


_BATCH_BYTES = 128 * 1024 * 1024  # decoded images held at once (batches shrink for photos)
_MAX_BATCH = 256


def _transform_pairs(scheme, direction, pairs, padding, max_pixels, report, bar, write_batch) -> dict:
    """Decode in parallel, encrypt same-sized images as one batch, encode and write in parallel.

    Every file keeps its own outcome: a failure (unreadable, too large, out of
    memory, an existing output) is reported for that file and the rest go on.
    `write_batch(items, executor=)` writes (path, bytes) items and returns each
    one's exception or None. Returns the written outputs' (H, W).
    """
    sizes: dict[Path, tuple[int, int]] = {}
    workers = max(2, min(8, 2 * (os.cpu_count() or 1)))
    batch, done = 16, 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        while done < len(pairs):
            chunk = pairs[done : done + batch]
            loaded = list(pool.map(lambda pair: _guarded(pair[0], _load, pair, scheme, direction, max_pixels), chunk))
            outputs: list = [None] * len(chunk)
            pixels: list = [None] * len(chunk)
            recorded: list = [None] * len(chunk)  # (H, W) before padding: written on encrypt, cropped to on decrypt
            errors = [error for _, error in loaded]
            groups: dict[tuple, list[int]] = {}
            for index, (value, error) in enumerate(loaded):
                if error is None:
                    pixels[index], recorded[index] = value
                    groups.setdefault(pixels[index].shape, []).append(index)
            for shape, members in groups.items():
                images = np.stack([pixels[i] for i in members])
                result, error = _guarded(None, getattr(scheme, direction), images, padding=padding)
                for position, index in enumerate(members):
                    if error is not None:
                        errors[index] = f"{chunk[index][0]}: {error}"
                    elif direction == "encrypt":
                        outputs[index] = result[position]
                        recorded[index] = shape[:2] if result.shape[1:3] != shape[:2] else None
                    else:
                        height, width = recorded[index] or shape[:2]
                        outputs[index] = result[position, :height, :width]
            jobs = [(index, *chunk[index], outputs[index]) for index in range(len(chunk)) if errors[index] is None]
            sizes_to_record = [recorded[job[0]] if direction == "encrypt" else None for job in jobs]
            encoded = list(pool.map(lambda job, size: _guarded(job[1], _encode_png, job[2], job[3], size),
                                    jobs, sizes_to_record))
            ready = []
            for (index, input_path, output_path, image), (data, error) in zip(jobs, encoded, strict=True):
                if error is None:
                    ready.append((index, input_path, output_path, image, data))
                else:
                    errors[index] = error
            outcomes = write_batch([(job[2], job[4]) for job in ready], executor=pool)
            for (index, input_path, output_path, image, _), outcome in zip(ready, outcomes, strict=True):
                if outcome is None:
                    sizes[output_path] = tuple(image.shape[:2])
                elif isinstance(outcome, OSError) and not isinstance(outcome, FileExistsError):
                    # The output could not be written: name it, not the input that was read fine.
                    errors[index] = f"{input_path}: cannot write {output_path}: {outcome.strerror or outcome}"
                else:
                    errors[index] = _describe_failure(input_path, outcome)
            for (input_path, output_path), error in zip(chunk, errors, strict=True):
                if error is None:
                    report.written.append(output_path)
                else:
                    report.failures.append((input_path, error))
            done += len(chunk)
            if bar is not None:
                bar.update(done)
            held = sum(image.nbytes for image in pixels if image is not None)
            per_image = max(1, held // max(1, sum(image is not None for image in pixels)))
            batch = int(max(1, min(_MAX_BATCH, _BATCH_BYTES // per_image)))
    return sizes


def _guarded(input_path: Path | None, function, *args, **kwargs):
    """(function's result, None), or (None, the failure as one line naming `input_path`)."""
    try:
        return function(*args, **kwargs), None
    except (KerasLieError, OSError, MemoryError, tf.errors.OpError) as error:
        return None, _describe_failure(input_path, error)


def _describe_failure(input_path: Path | None, error: BaseException) -> str:
    """One line saying why a file failed, naming `input_path` (unless None or already named)."""
    if isinstance(error, (KerasLieError, FileExistsError)):
        text = str(error)
    elif isinstance(error, OSError):
        text = str(error.strerror or error)
    elif isinstance(error, (tf.errors.ResourceExhaustedError, MemoryError)):
        text = "not enough memory; scale it down or cut it into tiles."
    elif isinstance(error, tf.errors.OpError):
        text = error.message.splitlines()[0]
    else:
        text = str(error)
    return text if input_path is None or str(input_path) in text else f"{input_path}: {text}"


def _load(pair, scheme, direction, max_pixels) -> tuple[np.ndarray, tuple[int, int] | None]:
    """The input image, and on decrypt the size it had before a padded encryption (None if not padded)."""
    input_path, output_path = pair
    if output_path.exists() and output_path.resolve() == input_path.resolve():
        raise ImageFileError(f"{output_path}: output would overwrite its input; choose another path.")
    image = read_image(input_path, max_pixels=max_pixels)
    original = None
    if direction == "decrypt":
        with open(input_path, "rb") as handle:
            original = recorded_original_size(handle.read(4096))
        if original is not None and scheme.padded_shape(*original) != image.shape[:2]:
            raise ImageFileError(
                f"{input_path}: records an unpadded size of {original[0]}x{original[1]}, which padding "
                f"cannot have made into its {image.shape[0]}x{image.shape[1]}; the file was changed after encryption."
            )
    return with_key_channels(image, scheme.channels, str(input_path)), original


def with_key_channels(image: np.ndarray, channels: int, name: str) -> np.ndarray:
    """The image with the key's channel count by the one rule: greyscale becomes equal channels, exactly.

    Raises:
        ImageFileError: an alpha channel (it would be dropped) or another channel count.
    """
    if image.shape[-1] == 1 and channels == 3:
        image = np.repeat(image, 3, axis=-1)
    if image.shape[-1] in (2, 4) and channels == image.shape[-1] - 1:
        raise ImageFileError(f"{name}: {ALPHA_ADVICE}.")
    if image.shape[-1] != channels:
        raise ImageFileError(
            f"{name}: has {image.shape[-1]} channels but the key is for {channels}; "
            "convert the image (e.g. to RGB) or use a key made for this channel count."
        )
    return image


def _encode_png(output_path: Path, image: np.ndarray, original_size: tuple[int, int] | None = None) -> bytes:
    check_output_path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    data = tf.io.encode_png(tf.convert_to_tensor(image, tf.uint8)).numpy()
    return data if original_size is None else _with_original_size(data, *original_size)


# An image padded to whole blocks (padding="replicate") carries its own size in its PNG, in a tEXt
# chunk right after the header, so that decrypting gives back exactly the image that was encrypted.
_ORIGINAL_SIZE_KEYWORD = b"keras-lie:unpadded-size"
_PNG_HEADER_END = 33  # 8 bytes of signature, then the IHDR chunk: length, type, 13 bytes, CRC


def _with_original_size(png: bytes, height: int, width: int) -> bytes:
    text = _ORIGINAL_SIZE_KEYWORD + b"\0" + f"{height}x{width}".encode()
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text))
    return png[:_PNG_HEADER_END] + chunk + png[_PNG_HEADER_END:]


def recorded_original_size(png: bytes) -> tuple[int, int] | None:
    """The (H, W) a padded encryption recorded in the start of a PNG file (None if none is there)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    position = 8
    while position + 8 <= len(png):
        length, kind = struct.unpack(">I", png[position : position + 4])[0], png[position + 4 : position + 8]
        if kind == b"IDAT":
            return None
        body = png[position + 8 : position + 8 + length]
        if kind == b"tEXt" and body.startswith(_ORIGINAL_SIZE_KEYWORD + b"\0"):
            try:
                height, width = (int(v) for v in body[len(_ORIGINAL_SIZE_KEYWORD) + 1 :].split(b"x"))
            except ValueError:
                return None
            return height, width
        position += 12 + length
    return None


def _folder_pairs(source: Path, destination: Path, skipped: list[Path]) -> list[tuple[Path, Path]]:
    source_resolved, destination_resolved = source.resolve(), destination.resolve()
    if destination_resolved == source_resolved or source_resolved in destination_resolved.parents:
        raise ImageFileError(
            f"The output folder {destination} is inside the input folder {source}; "
            "choose an output folder outside it."
        )
    if destination.exists() and not destination.is_dir():
        raise ImageFileError(f"{destination} is a file; the output of a folder must be a folder.")
    # keras-lie's own manifest is not an input; hidden files (the staging of an interrupted run) neither.
    files = sorted(path for path in source.rglob("*")
                   if path.is_file() and not path.name.startswith(".") and path.name != MANIFEST_NAME)
    inputs = [path for path in files if path.suffix.lower() in IMAGE_SUFFIXES]
    skipped.extend(path for path in files if path.suffix.lower() not in IMAGE_SUFFIXES)
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
