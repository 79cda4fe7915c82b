"""Encrypting a data set as an Apache Beam pipeline that writes a sharded TFDS dataset.

The data holder's path beyond one machine: the same encryption as `keras-lie
encrypt`, run by Beam (`pip install "keras-lie[beam]"`), on the embedded
DirectRunner on every local core (in threads) by default, or on any runner Beam knows
(Flink, Spark, ...) with Beam's own pipeline options.

- **The key** reaches the workers as the path of the holder's key file, which
  each worker reads in `DoFn.setup`: the key material is never pickled into the
  job graph, its staging files or its temporary files.
- **Where.** The source, the key and the output are local paths (on a cluster:
  mounted at the same path on every worker) or URLs of any file system Beam
  knows (gs:// with `apache-beam[gcp]`, s3:// with `apache-beam[aws]`, ...),
  which every worker reaches itself.
- **Shards from pieces.** Each shard's images (a stable choice by id) are cut
  into chunks; a worker encrypts a chunk and writes it as a piece of the shard
  (a TFRecord file: records concatenate), and the pieces are joined in order,
  hashed on the way. Only names and counts pass between workers, never images.
- **Nothing half-written.** On a local disk, shards go to a hidden staging
  folder beside the output; the dataset appears under its name, with its
  metadata and manifest, only when every shard is written (one rename). A run
  that is killed leaves only the hidden folder, which the next run removes. An
  object store has no rename of a folder: the dataset is written in place, a
  marker object (`.keras-lie-incomplete`) first and TFDS's `dataset_info.json`
  last, so that neither TFDS nor keras-lie loads it before it is whole; the next
  run into the same place removes a killed run's objects (found by the marker)
  and does the work again.
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

from keras_lie.data.image_files import (
    DEFAULT_MAX_PIXELS,
    check_against_manifest,
    check_source_manifest,
    decode_image,
    image_header,
    with_key_channels,
)
from keras_lie.errors import ImageFileError, KerasLieError, KeyFileError
from keras_lie.io.atomic_files import (
    IMAGE_SUFFIXES,
    create_staging_folder,
    publish_folder,
    stale_staging_folders,
)
from keras_lie.io.dataset_manifest import MANIFEST_NAME, DatasetManifest, parse_manifest, write_manifest
from keras_lie.keys import MAX_KEY_FILE_BYTES, Key, load_key
from keras_lie.keys.file_format import key_from_json
from keras_lie.schemes import get_scheme
from keras_lie.shards import storage
from keras_lie.shards.tfds_format import DEFAULT_SHARD_BYTES, features, shard_name, write_metadata

_SHARDS_FILE = ".shards.json"  # what the shard writers report, gathered in the staging folder
_FAILURES_FILE = ".failures.json"
_PIECES_FOLDER = ".pieces"  # the workers' pieces of shards, joined into the shards at the end
_INCOMPLETE = ".keras-lie-incomplete"  # on an object store: this dataset is being written (or was, by a killed run)
_METADATA_FILES = ("features.json", "dataset_info.json")  # TFDS's, written in this order: dataset_info.json last
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

    output: Path | str  # a Path, or the URL of a dataset on an object store
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
    `source` is a local path or a URL (a prefix of objects, or a zip object).
    """
    source = str(source)
    if _is_zip(source):
        with _open_archive(source) as archive:
            names = [PurePosixPath(name) for name in archive.namelist() if not name.endswith("/")]
        return _classify(names, lambda name: str(name), archive=source, origin=source)
    if storage.is_url(source) or os.path.isdir(source):
        names = [PurePosixPath(name) for name in storage.list_files(source)]
        if names:
            return _classify(names, lambda name: storage.join(source, str(name)), archive=None, origin=source)
    raise ImageFileError(f"{source} is neither a folder of class folders nor a zip of one"
                         f"{' (nothing is stored under it)' if storage.is_url(source) else ''}.")


def _is_zip(source: str) -> bool:
    if storage.is_url(source):
        return source.lower().endswith(".zip") and storage.exists(source)
    return os.path.isfile(source) and zipfile.is_zipfile(source)


def _open_archive(location: str) -> zipfile.ZipFile:
    """A zip, local or on an object store (Beam's readers seek: only the members read are fetched)."""
    return zipfile.ZipFile(storage.open_for_reading(location) if storage.is_url(location) else location)


def load_key_from(location: str | os.PathLike) -> Key:
    """The key in a key file at a local path (with `load_key`'s checks) or a URL of a file system Beam knows.

    A key on an object store is guarded by the store's access control, not by
    file modes: only the holder and the job's workers should be able to read it.
    """
    if not storage.is_url(location):
        return load_key(location)
    try:
        data = storage.read_bytes(str(location), limit=MAX_KEY_FILE_BYTES + 1)
    except Exception as error:  # noqa: BLE001 - each file system raises its own
        raise KeyFileError(f"Cannot read the key file {location}: {str(error).splitlines()[0][:200]}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{location} is far larger than any key file; give the key file itself.")
    try:
        return key_from_json(data.decode("ascii"), source=str(location))
    except UnicodeDecodeError:
        raise KeyFileError(f"{location} is not a keras-lie key (not a JSON text file).") from None


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
        with _open_archive(image.archive) as archive, archive.open(image.location) as handle:
            return handle.read(limit if limit is not None else -1)
    return storage.read_bytes(image.location, limit)


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
            one split, "train"), or a zip of one; a local path or a URL (gs://, s3://, ...).
        output: the dataset directory to create (it must not exist; on an object store:
            a location holding nothing, or only a killed run's objects).
        key_path: the holder's key file, a local path or a URL; every worker reads it
            (see the module docstring).
        num_shards: shards per split (default: about `shard_bytes` each).
        max_pixels: images over this many pixels are refused (listed in the failures).
        pipeline_args: Beam's pipeline options, e.g. `["--runner=FlinkRunner", "--flink_master=host:8081"]`;
            without a runner, the DirectRunner on every local core, in threads
            (`--direct_running_mode=multi_processing` for processes).

    Returns:
        The report: the dataset folder, its manifest (counts, shards, failures).

    Raises:
        ImageFileError: the source is not a tree of images, or is already encrypted.
        KerasLieError: `output` exists (or holds objects keras-lie did not write), or Beam is not installed.
        KeyFileError: the key file cannot be read or is not a key.
    """
    try:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError:
        raise KerasLieError(
            'Encrypting into a TFDS dataset runs on Apache Beam: pip install "keras-lie[beam]".'
        ) from None
    key = load_key_from(key_path)  # checked here, once, before any worker starts
    # Absolute paths: a worker process (or machine) need not share this process's working folder.
    key_path, source, output = (str(location) if storage.is_url(location) else str(Path(location).resolve())
                                for location in (key_path, source, output))
    _check_source_is_plain(source, key)
    images = list_source(source)
    per_image = _bytes_per_image(images)  # read from headers once: it sizes both shards and chunks
    counts = shard_counts(images, num_shards, shard_bytes, per_image)
    class_names = sorted({image.label for image in images})
    staging = _prepare_output(output)
    options = PipelineOptions(_with_local_defaults(pipeline_args or []))
    chunks = list(_chunks(images, counts, _chunk_images(per_image)))
    try:
        with beam.Pipeline(options=options) as pipeline:
            pieces = (
                pipeline
                | "List chunks" >> beam.Create(chunks)
                | "Spread" >> beam.Reshuffle()
                | "Encrypt and write pieces" >> beam.ParDo(
                    _EncryptChunk(key_path, staging, class_names, max_pixels))
                .with_outputs("failed", main="pieces")
            )
            # Only the pieces' names and counts travel between the steps, never the images.
            _ = (
                pieces.pieces
                | "Group by shard" >> beam.GroupByKey()
                | "Join shards" >> beam.ParDo(_JoinShard(staging, counts))
                | "Gather shards" >> beam.combiners.ToList()
                | "Record shards" >> beam.Map(_write_json, storage.join(staging, _SHARDS_FILE))
            )
            _ = (
                pieces.failed
                | "Gather failures" >> beam.combiners.ToList()
                | "Record failures" >> beam.Map(_write_json, storage.join(staging, _FAILURES_FILE))
            )
        manifest = _finish(staging, key, class_names, counts)
    except BaseException:
        storage.delete_tree(staging)  # on an object store, the output: it held nothing before this run
        raise
    if storage.is_url(output):
        storage.delete([storage.join(output, _INCOMPLETE)])  # whole since dataset_info.json; this is tidying
        return ShardedDatasetReport(output, manifest)
    return ShardedDatasetReport(publish_folder(Path(staging), output), manifest)


def _check_source_is_plain(source: str, key: Key) -> None:
    """Refuse an encrypted source (its manifest says so) before anything is written."""
    if not storage.is_url(source):
        if os.path.isdir(source):
            check_source_manifest(Path(source), get_scheme(key), "encrypt")
        return
    location = storage.join(source, MANIFEST_NAME)
    if storage.exists(location):
        check_against_manifest(parse_manifest(storage.read_bytes(location), location), source, get_scheme(key),
                               "encrypt")


def _prepare_output(output: str) -> str:
    """Where the shards are written: a new hidden folder beside a local output, or an object store's output itself.

    Raises:
        KerasLieError: the output already holds a dataset, or anything keras-lie did not write.
    """
    if not storage.is_url(output):
        if os.path.exists(output):
            raise KerasLieError(f"{output} already exists; choose a new folder for the dataset (nothing was written).")
        for stale in stale_staging_folders(output):  # killed runs' hidden folders
            shutil.rmtree(stale, ignore_errors=True)
        return str(create_staging_folder(output))
    present = storage.list_files(output)
    if "dataset_info.json" in present:
        raise KerasLieError(f"{output} already holds a dataset; choose a new location (nothing was written).")
    if present and _INCOMPLETE not in present:
        raise KerasLieError(f"{output} already holds {len(present)} objects ({present[0]}, ...); choose a new "
                            "location for the dataset (nothing was written).")
    if present:  # a killed run's: the marker is there and dataset_info.json, written last, is not
        storage.delete_tree(output)
    storage.write_bytes(storage.join(output, _INCOMPLETE), b"keras-lie is writing this dataset\n")
    return output


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


def _finish(staging: str, key, class_names, counts) -> DatasetManifest:
    """Empty shards, the manifest and TFDS metadata (dataset_info.json last), from what the workers reported."""
    shards, failures = (json.loads(storage.read_bytes(storage.join(staging, name)))
                        if storage.exists(storage.join(staging, name)) else []
                        for name in (_SHARDS_FILE, _FAILURES_FILE))
    storage.delete([storage.join(staging, name) for name in (_SHARDS_FILE, _FAILURES_FILE)])
    storage.delete_tree(storage.join(staging, _PIECES_FOLDER))  # joined and emptied; a piece left is no shard's
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
                storage.write_bytes(storage.join(staging, name), b"")
                written[split, index] = {"split": split, "index": index, "file": name, "examples": 0, "bytes": 0,
                                         "sha256": hashlib.sha256(b"").hexdigest(), "labels": {}, "shapes": []}
    ordered = [written[key_] for key_ in sorted(written)]
    shapes = {tuple(shape) for shard in ordered for shape in shard["shapes"]}
    image_shape = shapes.pop() if len(shapes) == 1 else (None, None, key.channels)
    lengths = {split: [written[split, i]["examples"] for i in range(count)] for split, count in counts.items()}
    sizes = {split: sum(written[split, i]["bytes"] for i in range(count)) for split, count in counts.items()}
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
    if not storage.is_url(staging):
        write_manifest(staging, manifest)
        write_metadata(staging, class_names, key.channels, lengths, sizes)
        return manifest
    storage.write_bytes(storage.join(staging, MANIFEST_NAME), manifest.to_json().encode())
    with storage.local_scratch() as scratch:  # TFDS writes its metadata here; copied up, dataset_info.json last
        for shard in ordered:  # TFDS looks for the shards' names beside the metadata (never reads them)
            open(os.path.join(scratch, shard["file"]), "wb").close()
        write_metadata(scratch, class_names, key.channels, lengths, sizes)
        for name in _METADATA_FILES:
            storage.copy_from_local(os.path.join(scratch, name), storage.join(staging, name))
    return manifest


def _write_json(items, path: str) -> None:
    storage.write_bytes(path, json.dumps(items).encode())


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
        key = load_key_from(self.key_path)
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
        name = f"{chunk.split}-{chunk.shard:05d}-{chunk.number:05d}.tfrecord"
        _write_records(storage.join(self.staging, _PIECES_FOLDER, name), [example for *_, example in examples])
        labels: dict[str, int] = {}
        for _, label, _, _ in examples:
            labels[label] = labels.get(label, 0) + 1
        yield (chunk.split, chunk.shard), {"number": chunk.number, "file": name, "examples": len(examples),
                                           "labels": labels, "shapes": sorted({shape for *_, shape, _ in examples})}

    def _read(self, image: SourceImage) -> bytes:
        if image.archive is None:
            return _read_bytes(image)
        if image.archive not in self.archives:
            self.archives[image.archive] = _open_archive(image.archive)
        return self.archives[image.archive].read(image.location)


def _write_records(location: str, records: list[bytes]) -> None:
    """A TFRecord file of `records`: written in place on a local disk, built locally and copied to a URL."""
    import tensorflow as tf

    if not storage.is_url(location):
        os.makedirs(os.path.dirname(location), exist_ok=True)
        with tf.io.TFRecordWriter(location) as writer:
            for record in records:
                writer.write(record)
        return
    with storage.local_scratch() as scratch:
        _write_records(os.path.join(scratch, "piece.tfrecord"), records)
        storage.copy_from_local(os.path.join(scratch, "piece.tfrecord"), location)


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
        with storage.open_for_writing(storage.join(self.staging, name)) as shard:
            for piece in pieces:
                with storage.open_for_reading(storage.join(self.staging, _PIECES_FOLDER, piece["file"])) as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
                        shard.write(block)
                        size += len(block)
        # Deleted once the shard is whole: a retried join (on a distributed runner) finds them all still there.
        storage.delete([storage.join(self.staging, _PIECES_FOLDER, piece["file"]) for piece in pieces])
        labels: dict[str, int] = {}
        for piece in pieces:
            for label, count in piece["labels"].items():
                labels[label] = labels.get(label, 0) + count
        yield {"split": split, "index": index, "file": name, "examples": sum(piece["examples"] for piece in pieces),
               "bytes": size, "sha256": digest.hexdigest(), "labels": labels,
               "shapes": sorted({tuple(shape) for piece in pieces for shape in piece["shapes"]})}
