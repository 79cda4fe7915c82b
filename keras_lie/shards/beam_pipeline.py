"""Encrypting a data set as an Apache Beam pipeline that writes a sharded TFDS dataset.

The data holder's path beyond one machine: the same encryption as `keras-lie
encrypt`, run by Beam (`pip install "keras-lie[beam]"`), on the embedded
DirectRunner on every local core (in threads) by default, or on any runner Beam knows
(Flink, Spark, ...) with Beam's own pipeline options.

- **The key** reaches the workers as the path of the holder's key file, which
  each worker reads in `DoFn.setup`: the key material is never pickled into the
  job graph, its staging files or its temporary files. The source, the key and
  the output are local paths (on a cluster: mounted at the same path on every
  worker); object stores are not supported yet.
- **Shards from pieces.** Each shard's images (a stable choice by id) are cut
  into chunks; a worker encrypts a chunk and writes it as a piece of the shard
  (a TFRecord file: records concatenate), and the pieces are joined in order,
  hashed on the way. Only names and counts pass between workers, never images.
- **Nothing half-written.** Shards go to a hidden staging folder beside the
  output; the dataset appears under its name, with its metadata and manifest,
  only when every shard is written (one rename on a local disk). A run that is
  killed leaves only the hidden folder, which the next run removes; re-running
  does the work again.
- **Nothing silently dropped.** An image that cannot be read, is too large or has
  the wrong channels is listed with why in the manifest's `failures` and in the
  returned report; the others are written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from keras_lie._files import (
    IMAGE_SUFFIXES,
    atomic_write_bytes,
    create_staging_folder,
    publish_folder,
    stale_staging_folders,
)
from keras_lie.errors import ImageFileError, KerasLieError
from keras_lie.files import DEFAULT_MAX_PIXELS, check_source_manifest, decode_image, image_header, with_key_channels
from keras_lie.keys import load_key
from keras_lie.manifest import DatasetManifest, write_manifest
from keras_lie.schemes import get_scheme
from keras_lie.shards.tfds_format import DEFAULT_SHARD_BYTES, features, shard_name, write_metadata

_SHARDS_FILE = ".shards.json"  # what the shard writers report, gathered in the staging folder
_FAILURES_FILE = ".failures.json"
_PIECES_FOLDER = ".pieces"  # the workers' pieces of shards, joined into the shards at the end
# A chunk is one worker's unit: enough images to pay for a call of the compiled kernel, few enough to spread.
_CHUNK_BYTES = 16 * 1024 * 1024
_CHUNK_MAX_IMAGES = 500


@dataclasses.dataclass(frozen=True)
class SourceImage:
    """One image of the source: its split, class, id (path under the root) and where its bytes are."""

    split: str
    label: str
    id: str
    location: str  # a path or URL, or a member of `archive`
    archive: str | None = None


@dataclasses.dataclass
class ShardedDatasetReport:
    """What `encrypt_to_tfds` wrote: the dataset folder, its manifest, and the files that failed."""

    output: Path
    manifest: DatasetManifest

    @property
    def failures(self) -> list[tuple[str, str]]:
        return [(failure["file"], failure["reason"]) for failure in self.manifest.failures or []]

    @property
    def ok(self) -> bool:
        return not self.failures


def list_source(source: str | os.PathLike) -> list[SourceImage]:
    """The images of a class-folder tree or a zip of one, with their split and class.

    `ROOT/<split>/<class>/<image>` gives the splits by name; `ROOT/<class>/<image>`
    is one split, "train". Hidden files and keras-lie's manifest are left out.
    """
    source = Path(source)
    if source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            names = [PurePosixPath(name) for name in archive.namelist() if not name.endswith("/")]
        return _classify(names, lambda name: str(name), archive=str(source), origin=str(source))
    if source.is_dir():
        names = [PurePosixPath(p.relative_to(source).as_posix()) for p in source.rglob("*") if p.is_file()]
        return _classify(names, lambda name: str(source / name), archive=None, origin=str(source))
    raise ImageFileError(f"{source} is neither a folder of class folders nor a zip of one.")


def _classify(names, locate, archive, origin) -> list[SourceImage]:
    names = [n for n in names if n.suffix.lower() in IMAGE_SUFFIXES and not any(p.startswith(".") for p in n.parts)]
    # A zip usually holds one top folder (cifar10/train/...): the splits are the folders two above the files.
    depth = {len(n.parts) for n in names}
    images = []
    for name in sorted(names):
        parts = name.parts
        if len(parts) >= 3 and max(depth) >= 3:
            split, label = parts[-3], parts[-2]
        elif len(parts) == 2:
            split, label = "train", parts[0]
        else:
            continue
        images.append(SourceImage(split, label, str(name), locate(name), archive))
    if not images:
        raise ImageFileError(
            f"{origin} holds no images in class folders; expected ROOT/<split>/<class>/<image> or ROOT/<class>/<image>."
        )
    return images


def shard_counts(images: list[SourceImage], num_shards: int | None, shard_bytes: int,
                 per_image: int) -> dict[str, int]:
    """Shards per split: `num_shards` each, or enough for about `shard_bytes` each, at `per_image` bytes an image."""
    per_split: dict[str, int] = {}
    for image in images:
        per_split[image.split] = per_split.get(image.split, 0) + 1
    if num_shards is not None:
        if num_shards < 1:
            raise KerasLieError(f"num_shards must be at least 1, not {num_shards}.")
        return {split: min(num_shards, count) for split, count in per_split.items()}
    return {split: max(1, min(count, round(count * per_image / shard_bytes))) for split, count in per_split.items()}


def _bytes_per_image(images: list[SourceImage]) -> int:
    """The encrypted bytes of an average image, from up to 50 images' headers (H x W x 3: an encrypted image
    barely compresses)."""
    sizes = []
    for image in images[:: max(1, len(images) // 50)][:50]:
        header = image_header(_read_bytes(image, limit=1 << 16))
        if header is not None:
            sizes.append(header[0] * header[1] * 3)
    return max(1, round(sum(sizes) / len(sizes))) if sizes else 32 * 32 * 3


def _read_bytes(image: SourceImage, limit: int | None = None) -> bytes:
    if image.archive is not None:
        with zipfile.ZipFile(image.archive) as archive, archive.open(image.location) as handle:
            return handle.read(limit if limit is not None else -1)
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(image.location, compression_type="uncompressed") as handle:
        return handle.read(limit) if limit is not None else handle.read()


def encrypt_to_tfds(
    source: str | os.PathLike,
    output: str | os.PathLike,
    key_path: str | os.PathLike,
    *,
    num_shards: int | None = None,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    pipeline_args: list[str] | None = None,
) -> ShardedDatasetReport:
    """Encrypt a class-folder tree or zip into a TFDS dataset directory with an Apache Beam pipeline.

    Args:
        source: a folder `ROOT/<split>/<class>/<image>` (or `ROOT/<class>/<image>`:
            one split, "train"), or a zip of one.
        output: the dataset directory to create (it must not exist).
        key_path: the holder's key file; every worker reads it (see the module docstring).
        num_shards: shards per split (default: about `shard_bytes` each).
        max_pixels: images over this many pixels are refused (listed in the failures).
        pipeline_args: Beam's pipeline options, e.g. `["--runner=FlinkRunner", "--flink_master=host:8081"]`;
            without a runner, the DirectRunner on every local core, in threads
            (`--direct_running_mode=multi_processing` for processes).

    Returns:
        The report: the dataset folder, its manifest (counts, shards, failures).

    Raises:
        ImageFileError: the source is not a tree of images, or is already encrypted.
        KerasLieError: `output` exists, or Beam is not installed.
    """
    try:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError:
        raise KerasLieError(
            'Encrypting into a TFDS dataset runs on Apache Beam: pip install "keras-lie[beam]".'
        ) from None
    key = load_key(key_path)  # checked here, once, before any worker starts
    # Absolute paths: a worker process (or machine) need not share this process's working folder.
    key_path, source, output = Path(key_path).resolve(), Path(source).resolve(), Path(output).resolve()
    if output.exists():
        raise KerasLieError(f"{output} already exists; choose a new folder for the dataset (nothing was written).")
    if source.is_dir():
        check_source_manifest(source, get_scheme(key), "encrypt")
    images = list_source(source)
    per_image = _bytes_per_image(images)  # read from headers once: it sizes both shards and chunks
    counts = shard_counts(images, num_shards, shard_bytes, per_image)
    class_names = sorted({image.label for image in images})
    for stale in stale_staging_folders(output):  # killed runs' hidden folders
        shutil.rmtree(stale, ignore_errors=True)
    staging = create_staging_folder(output)
    options = PipelineOptions(_with_local_defaults(pipeline_args or []))
    chunks = list(_chunks(images, counts, _chunk_images(per_image)))
    try:
        with beam.Pipeline(options=options) as pipeline:
            pieces = (
                pipeline
                | "List chunks" >> beam.Create(chunks)
                | "Spread" >> beam.Reshuffle()
                | "Encrypt and write pieces" >> beam.ParDo(
                    _EncryptChunk(str(key_path), str(staging), class_names, max_pixels))
                .with_outputs("failed", main="pieces")
            )
            # Only the pieces' names and counts travel between the steps, never the images.
            _ = (
                pieces.pieces
                | "Group by shard" >> beam.GroupByKey()
                | "Join shards" >> beam.ParDo(_JoinShard(str(staging), counts))
                | "Gather shards" >> beam.combiners.ToList()
                | "Record shards" >> beam.Map(_write_json, str(staging / _SHARDS_FILE))
            )
            _ = (
                pieces.failed
                | "Gather failures" >> beam.combiners.ToList()
                | "Record failures" >> beam.Map(_write_json, str(staging / _FAILURES_FILE))
            )
        manifest = _finish(staging, key, class_names, counts)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish_folder(staging, output)
    return ShardedDatasetReport(output, manifest)


@dataclasses.dataclass(frozen=True)
class _Chunk:
    """A run of one shard's images, encrypted and written as one piece of that shard by one worker."""

    split: str
    shard: int
    number: int
    images: tuple[SourceImage, ...]


def _chunk_images(per_image: int) -> int:
    """Images per chunk: about `_CHUNK_BYTES` of pixels at `per_image` bytes each, at most `_CHUNK_MAX_IMAGES`."""
    return max(1, min(_CHUNK_MAX_IMAGES, _CHUNK_BYTES // per_image))


def _chunks(images: list[SourceImage], counts: dict[str, int], size: int):
    """Each shard's images, sorted by id (a stable order), cut into chunks of `size`."""
    per_shard: dict[tuple[str, int], list[SourceImage]] = {}
    for image in images:
        per_shard.setdefault((image.split, _shard_of(image, counts[image.split])), []).append(image)
    for (split, shard), members in sorted(per_shard.items()):
        members.sort(key=lambda image: image.id)
        for number, start in enumerate(range(0, len(members), size)):
            yield _Chunk(split, shard, number, tuple(members[start:start + size]))


def _with_local_defaults(pipeline_args: list[str]) -> list[str]:
    """Beam's options, with the DirectRunner on every local core where no runner or running mode is named.

    Threads, not processes: the work is TensorFlow's kernels and I/O, which
    release the GIL, and one process imports TensorFlow once where each worker
    process would import it again (10,000 CIFAR images on 2 cores: 12.5-13.2 s
    in threads, 18.1 s in processes).
    """
    named = {argument.split("=", 1)[0] for argument in pipeline_args}
    runner = next((argument.split("=", 1)[1] for argument in pipeline_args if argument.startswith("--runner=")),
                  "DirectRunner")
    defaults = [] if "--runner" in named else ["--runner=DirectRunner"]
    if runner == "DirectRunner" and "--direct_running_mode" not in named:
        defaults += ["--direct_running_mode=multi_threading", "--direct_num_workers=0"]
    return [*defaults, *pipeline_args]


def _finish(staging: Path, key, class_names, counts) -> DatasetManifest:
    """Empty shards, TFDS metadata and the manifest, from what the workers reported."""
    shards = json.loads((staging / _SHARDS_FILE).read_text()) if (staging / _SHARDS_FILE).exists() else []
    failures = json.loads((staging / _FAILURES_FILE).read_text()) if (staging / _FAILURES_FILE).exists() else []
    for name in (_SHARDS_FILE, _FAILURES_FILE):
        (staging / name).unlink(missing_ok=True)
    shutil.rmtree(staging / _PIECES_FOLDER, ignore_errors=True)  # joined and emptied; a piece left is no shard's
    if not shards:
        raise ImageFileError(
            f"No image could be encrypted ({len(failures)} failed; the first: "
            f"{failures[0]['file'] if failures else 'none'}: {failures[0]['reason'] if failures else ''})."
        )
    written = {(shard["split"], shard["index"]): shard for shard in shards}
    for split, count in counts.items():
        for index in range(count):
            if (split, index) not in written:  # every image of this shard failed: TFDS still needs its file
                name = shard_name(split, index, count)
                atomic_write_bytes(staging / name, b"")
                written[split, index] = {"split": split, "index": index, "file": name, "examples": 0, "bytes": 0,
                                         "sha256": hashlib.sha256(b"").hexdigest(), "labels": {}, "shapes": []}
    ordered = [written[key_] for key_ in sorted(written)]
    shapes = {tuple(shape) for shard in ordered for shape in shard["shapes"]}
    image_shape = shapes.pop() if len(shapes) == 1 else (None, None, key.channels)
    lengths = {split: [written[split, i]["examples"] for i in range(count)] for split, count in counts.items()}
    sizes = {split: sum(written[split, i]["bytes"] for i in range(count)) for split, count in counts.items()}
    write_metadata(str(staging), class_names, key.channels, lengths, sizes)
    label_counts: dict[str, dict[str, int]] = {}
    for shard in ordered:
        split_counts = label_counts.setdefault(shard["split"], {})
        for label, count in shard["labels"].items():
            split_counts[label] = split_counts.get(label, 0) + count
    manifest = DatasetManifest(
        scheme=key.scheme, block_size=key.block_size, channels=key.channels,
        key_fingerprint=key.fingerprint if key.scheme != "plain" else None,
        image_size=tuple(image_shape[:2]) if image_shape[0] is not None else None, counts=label_counts,
        layout="tfds",
        shards=[{name: shard[name] for name in ("file", "split", "examples", "bytes", "sha256")} for shard in ordered],
        failures=sorted(failures, key=lambda failure: failure["file"]) or None,
    )
    write_manifest(staging, manifest)
    return manifest


def _write_json(items, path: str) -> None:
    atomic_write_bytes(path, json.dumps(items).encode(), overwrite=True)


def _shard_of(image: SourceImage, count: int) -> int:
    """A stable shard for an image: the same in every run and on every worker."""
    return int.from_bytes(hashlib.sha256(image.id.encode()).digest()[:8], "big") % count


try:
    import apache_beam as _beam

    _DoFn = _beam.DoFn
    _tagged = _beam.pvalue.TaggedOutput
except ImportError:  # the pipeline is unavailable; encrypt_to_tfds says how to install it
    _DoFn, _tagged = object, None


class _EncryptChunk(_DoFn):
    """Read, check, encrypt and serialise a chunk of images, written as one piece (a TFRecord file) of its shard.

    Images of one size are encrypted with one call (the compiled kernel's cost
    per call is far above its cost per small image). Failures go to the
    "failed" output with why; the piece holds the others.
    """

    def __init__(self, key_path: str, staging: str, class_names: list[str], max_pixels):
        super().__init__()
        self.key_path, self.staging, self.class_names, self.max_pixels = key_path, staging, class_names, max_pixels

    def setup(self):
        # The key is read here, on the worker, from the holder's file: never pickled with this DoFn.
        key = load_key(self.key_path)
        self.scheme = get_scheme(key)
        self.features = features(self.class_names, key.channels)
        self.archives: dict[str, zipfile.ZipFile] = {}

    def teardown(self):
        for archive in getattr(self, "archives", {}).values():
            archive.close()

    def process(self, chunk: _Chunk):
        import numpy as np
        import tensorflow as tf

        failures = (KerasLieError, OSError, MemoryError, tf.errors.OpError)
        by_shape: dict[tuple, list] = {}
        for image in chunk.images:
            try:
                pixels = with_key_channels(decode_image(self._read(image), image.id, max_pixels=self.max_pixels),
                                           self.scheme.channels, image.id)
            except failures as error:
                yield _failure(image, error)
                continue
            by_shape.setdefault(pixels.shape, []).append((image, pixels))
        examples = []
        for members in by_shape.values():
            try:
                encrypted = self.scheme.encrypt(np.stack([pixels for _, pixels in members]))
            except failures as error:
                for image, _ in members:
                    yield _failure(image, error)
                continue
            for (image, _), cipher in zip(members, encrypted, strict=True):
                example = _serialize(self.features, cipher, self.class_names.index(image.label), image.id)
                examples.append((image.id, image.label, cipher.shape, example))
        examples.sort(key=lambda example: example[0])
        folder = os.path.join(self.staging, _PIECES_FOLDER)
        os.makedirs(folder, exist_ok=True)
        name = f"{chunk.split}-{chunk.shard:05d}-{chunk.number:05d}.tfrecord"
        with tf.io.TFRecordWriter(os.path.join(folder, name)) as writer:
            for *_, example in examples:
                writer.write(example)
        labels: dict[str, int] = {}
        for _, label, _, _ in examples:
            labels[label] = labels.get(label, 0) + 1
        yield (chunk.split, chunk.shard), {"number": chunk.number, "file": name, "examples": len(examples),
                                           "labels": labels, "shapes": sorted({shape for *_, shape, _ in examples})}

    def _read(self, image: SourceImage) -> bytes:
        if image.archive is None:
            return _read_bytes(image)
        if image.archive not in self.archives:
            self.archives[image.archive] = zipfile.ZipFile(image.archive)
        return self.archives[image.archive].read(image.location)


def _failure(image: SourceImage, error: BaseException):
    reason = str(getattr(error, "message", None) or error).splitlines()[0]
    return _tagged("failed", {"file": image.id, "reason": reason})


def _serialize(dataset_features, image, label: int, example_id: str) -> bytes:
    """One example, serialised by TFDS itself (so that TFDS reads it back as written)."""
    return dataset_features.serialize_example({"image": image, "label": label, "id": example_id})


class _JoinShard(_DoFn):
    """Join a shard's pieces, in order, into its TFRecord file (records concatenate); hash it on the way."""

    def __init__(self, staging: str, counts: dict[str, int]):
        super().__init__()
        self.staging, self.counts = staging, counts

    def process(self, element):
        (split, index), pieces = element
        pieces = sorted(pieces, key=lambda piece: piece["number"])
        name = shard_name(split, index, self.counts[split])
        digest, size = hashlib.sha256(), 0
        with open(os.path.join(self.staging, name), "wb") as shard:
            for piece in pieces:
                path = os.path.join(self.staging, _PIECES_FOLDER, piece["file"])
                with open(path, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
                        shard.write(block)
                        size += len(block)
                os.unlink(path)
        labels: dict[str, int] = {}
        for piece in pieces:
            for label, count in piece["labels"].items():
                labels[label] = labels.get(label, 0) + count
        yield {"split": split, "index": index, "file": name, "examples": sum(piece["examples"] for piece in pieces),
               "bytes": size, "sha256": digest.hexdigest(), "labels": labels,
               "shapes": sorted({tuple(shape) for piece in pieces for shape in piece["shapes"]})}
