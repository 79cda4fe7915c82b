"""Image sources as `tf.data` datasets of `(uint8 image (H, W, C), int64 label)`.

- TensorFlow Datasets `cifar10` / `cifar100` (`data_dir` for a prepared copy);
- a class-folder tree `ROOT/<split>/<class>/<image>` (or `ROOT/<class>/<image>`);
- a zip of such a tree, read directly (../shared/data/cifar10-jpeg.zip is one);
- a folder already encrypted by `keras-lie encrypt` (the same layout, PNG files).

Classes are the sorted sub-folder names, as in `keras.utils.image_dataset_from_directory`.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np
import tensorflow as tf

from keras_lie.errors import DatasetUnavailableError
from keras_lie.io.atomic_files import ALPHA_ADVICE, IMAGE_SUFFIXES, is_url
from keras_lie.io.dataset_manifest import MANIFEST_NAME, DatasetManifest, read_manifest

TFDS_NAMES = ("cifar10", "cifar100")


@dataclasses.dataclass
class ImageSource:
    """A split of an image dataset.

    Attributes:
        dataset: `tf.data.Dataset` of `(image uint8 (H, W, C), label int64)`.
        class_names: the class names, indexed by label.
        size: the number of examples.
        name: where it came from.
        encrypted: whether the images are already encrypted (a folder made by
            `keras-lie encrypt`), so a pipeline must not encrypt them again.
        manifest: the encrypted folder's description (scheme, key fingerprint,
            ...), when it has one.
    """

    dataset: tf.data.Dataset
    class_names: list[str]
    size: int
    name: str
    encrypted: bool = False
    manifest: DatasetManifest | None = None
    files: list[str] | None = None  # the image files (or zip members) in dataset order, to name bad ones
    archive: str | None = None  # the zip file that holds `files`, if any
    records: tf.data.Dataset | None = None  # the undecoded examples, for `shard`
    decode: Callable | None = None  # records -> (image, label)
    single_split: bool = False  # a folder without train/ and test/: every split is the same images
    read_shards: Callable | None = None  # a TFDS directory: InputContext -> that worker's shards, decoded
    shard_lengths: list[int] | None = None  # a TFDS directory: the examples in each shard file

    def shard(self, count: int, index: int) -> ImageSource:
        """The `index`-th of `count` equal, disjoint parts: what one worker of `count` reads.

        Every part has `size // count` examples (the remainder is dropped, so that
        every worker runs the same number of steps, as synchronous training needs).
        Folders and zips are split before decoding, so a worker reads and decodes
        only its own files; a TFDS split is split after loading.
        """
        if not 0 <= index < count:
            raise ValueError(f"shard index {index} is not in 0..{count - 1}.")
        per_worker = self.size // count
        if self.read_shards is not None:
            if len(self.shard_lengths) < count:
                raise DatasetUnavailableError(
                    f"{self.name} has {len(self.shard_lengths)} shard files, fewer than the {count} workers; "
                    f"encrypt it again with at least {count} shards (--num-shards {count})."
                )
            # Worker i reads files i, i + count, ...: every worker takes as many examples as the smallest part.
            per_worker = min(sum(self.shard_lengths[i::count]) for i in range(count))
        if per_worker == 0:
            raise DatasetUnavailableError(f"{self.name} has {self.size} examples, fewer than the {count} workers.")
        if self.read_shards is not None:  # whole shard files per worker: none reads another's
            context = tf.distribute.InputContext(num_input_pipelines=count, input_pipeline_id=index)
            dataset = _with_static_shape(self.read_shards(context).take(per_worker))
            return dataclasses.replace(self, dataset=dataset, size=per_worker,
                                       name=f"{self.name} (part {index + 1} of {count})")
        if self.records is not None:
            records = self.records.take(per_worker * count).shard(count, index)
            dataset = _with_static_shape(records.map(self.decode, num_parallel_calls=tf.data.AUTOTUNE,
                                                     deterministic=True))
        else:
            records, dataset = None, self.dataset.take(per_worker * count).shard(count, index)
        files = self.files[: per_worker * count][index::count] if self.files else None
        return dataclasses.replace(self, dataset=dataset, size=per_worker, files=files, records=records,
                                   name=f"{self.name} (part {index + 1} of {count})")

    def unreadable_files(self, limit: int = 5) -> list[str]:
        """The first `limit` files that cannot be decoded as 8-bit images of 1 or 3 channels, with why.

        Slow (decodes every file): for naming the culprits after a pipeline failed.
        """
        if not self.files:
            return []
        archive = zipfile.ZipFile(self.archive) if self.archive else None
        found = []
        try:
            for name in self.files:
                data = archive.read(name) if archive is not None else Path(name).read_bytes()
                try:
                    image = tf.io.decode_image(data, channels=0, dtype=tf.uint8, expand_animations=False)
                    if image.shape[-1] not in (1, 3):
                        found.append(f"{name} ({ALPHA_ADVICE})")
                except (tf.errors.InvalidArgumentError, ValueError) as error:
                    found.append(f"{name} ({str(getattr(error, 'message', error)).splitlines()[0]})")
                if len(found) >= limit:
                    break
        finally:
            if archive is not None:
                archive.close()
        return found

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_source(
    source: str | os.PathLike,
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    seed: int = 0,
    encrypted: bool = False,
    holdout: float | None = None,
) -> ImageSource:
    """Load a split from a TFDS name, a class-folder tree, or a zip of one.

    Args:
        source: "cifar10", "cifar100", a folder, or a .zip file.
        split: "train" or "test" (the sub-folder name for folders and zips).
        data_dir: TFDS data folder (for a copy prepared elsewhere).
        limit: keep a class-balanced subset of this many examples, chosen with `seed`.
        encrypted: mark a folder as already encrypted (no second encryption).
        holdout: for a folder without train/ and test/ sub-folders (ROOT/<class>/<image>),
            the fraction of its images that form the "test" split; "train" gets the
            others. The partition depends on the file names only (not on `seed` or
            `limit`), so the two splits never share an image. Without it such a
            folder is one split, `single_split` is set, and `experiments.prepare`
            refuses to score a model on it.

    Raises:
        DatasetUnavailableError: with what to do instead (offline, missing split).
    """
    text = str(source)
    if holdout is not None and not (Path(text).is_dir() and not _has_split_folders(Path(text))):
        raise DatasetUnavailableError(
            f"{text} has its own train and test splits; a holdout fraction applies only to a folder of class "
            "folders without train/ and test/ sub-folders. Leave out the holdout."
        )
    if holdout is not None and not 0 < holdout < 1:
        raise DatasetUnavailableError(f"The holdout fraction must lie between 0 and 1, not {holdout}.")
    if text in TFDS_NAMES:
        return _tfds_source(text, split, data_dir, limit, seed)
    if is_url(text):
        return _tfds_url_source(text, split, limit, seed, encrypted)
    path = Path(source)
    if not path.exists():
        raise DatasetUnavailableError(
            f"{path} does not exist; give a TFDS name ({', '.join(TFDS_NAMES)}), a class-folder "
            "tree, or a zip of one (e.g. ../shared/data/cifar10-jpeg.zip)."
        )
    if path.is_file() and zipfile.is_zipfile(path):
        return _zip_source(path, split, limit, seed)
    if (path / "dataset_info.json").is_file():
        return _tfds_directory_source(path, split, limit, seed, encrypted)
    if path.is_dir():
        return _folder_source(path, split, limit, seed, encrypted, holdout)
    raise DatasetUnavailableError(f"{path} is neither a folder nor a zip file of images.")


def _tfds_source(name, split, data_dir, limit, seed) -> ImageSource:
    try:
        import tensorflow_datasets as tfds

        dataset, info = tfds.load(name, split=split, data_dir=data_dir, as_supervised=True, with_info=True)
    except ImportError as error:
        raise DatasetUnavailableError(
            f"TensorFlow Datasets cannot prepare '{name}': {error}. Install the missing package "
            f"(pip install {getattr(error, 'name', None) or 'it'}), or use a local copy (a zip or folder of "
            "class folders, e.g. --data ../shared/data/cifar10-jpeg.zip)."
        ) from None
    except Exception as error:  # noqa: BLE001 - tfds raises many types for offline/missing data
        raise DatasetUnavailableError(
            f"Cannot load TensorFlow Datasets '{name}' ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200]}). Offline, use a local copy instead: a zip or "
            "folder of class folders (e.g. --data ../shared/data/cifar10-jpeg.zip), or "
            "--data-dir pointing to a TFDS folder where the dataset is already prepared."
        ) from None
    names = info.features["label"].names
    size = info.splits[split].num_examples
    dataset = dataset.map(lambda image, label: (image, tf.cast(label, tf.int64)))
    if limit is not None and limit < size:
        # Balanced subsets need labels; for TFDS take a seeded shuffle's first `limit`.
        dataset = dataset.shuffle(size, seed=seed, reshuffle_each_iteration=False).take(limit)
        size = limit
    return ImageSource(dataset, list(names), size, f"tfds:{name}/{split}")


def _tfds_url_source(url: str, split, limit, seed, encrypted) -> ImageSource:
    """A TFDS directory on a file system TensorFlow reaches (gs://, or s3:// with tensorflow-io)."""
    url = url.rstrip("/")
    try:
        found = tf.io.gfile.exists(f"{url}/dataset_info.json")
    except tf.errors.OpError as error:
        raise DatasetUnavailableError(
            f"Cannot reach {url}: {error.message.splitlines()[0][:200]}. TensorFlow reads gs:// itself and s3:// "
            "with tensorflow-io installed; check the URL and your credentials."
        ) from None
    if not found:
        raise DatasetUnavailableError(
            f"{url} holds no TFDS dataset (no dataset_info.json; a run still writing it, or a killed one, has "
            "none yet). From object stores keras-lie reads datasets written by `keras-lie encrypt --format tfds`; "
            "copy a folder of images to a local disk to read it."
        )
    return _tfds_directory_source(url, split, limit, seed, encrypted)


def _tfds_directory_source(path: Path | str, split, limit, seed, encrypted) -> ImageSource:
    """A prepared TFDS directory (`keras-lie encrypt --format tfds` writes one): shards read in parallel.

    The shards are interleaved, and `shard` splits them by file, so that each
    worker of a multi-worker run reads only its own shards.
    """
    import tensorflow_datasets as tfds

    manifest = read_manifest(path)
    if manifest is not None and not encrypted:
        raise DatasetUnavailableError(
            f"{path} holds images encrypted with the {manifest.scheme!r} scheme (its {MANIFEST_NAME} says so); "
            "load it as encrypted data (encrypted=True, --encrypted) so that it is not encrypted again."
        )
    builder = tfds.builder_from_directory(str(path))
    if split not in builder.info.splits:
        raise DatasetUnavailableError(
            f"{path} has no '{split}' split (it has {', '.join(sorted(builder.info.splits))}); "
            "encrypt a source with that split, or name one it has."
        )
    names = builder.info.features["label"].names
    size = builder.info.splits[split].num_examples
    if limit is not None and limit < size:
        size = limit

    info = builder.info.splits[split]
    files = [f"{path}/{name}" if isinstance(path, str) else str(path / name) for name in info.filenames]
    raw = _is_raw_image_feature(builder.info.features["image"])

    def read(input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        if raw and files:  # keras-lie's own layout: parsed a batch at a time, no per-example decoding
            ours = files if input_context is None else \
                files[input_context.input_pipeline_id::input_context.num_input_pipelines]
            dataset = _raw_image_records(ours, files)
        else:  # any other TFDS dataset: TFDS decodes its features
            config = tfds.ReadConfig(interleave_cycle_length=tf.data.AUTOTUNE, input_context=input_context)
            dataset = builder.as_dataset(split=split, read_config=config, shuffle_files=False)
            dataset = _with_static_shape(dataset.map(
                lambda example: (example["image"], tf.cast(example["label"], tf.int64)),
                num_parallel_calls=tf.data.AUTOTUNE))
        return dataset.take(limit) if limit is not None else dataset

    return ImageSource(read(), list(names), size, f"tfds-dir:{path}/{split}",
                       encrypted=encrypted, manifest=manifest, read_shards=read,
                       shard_lengths=list(builder.info.splits[split].shard_lengths))


def _is_raw_image_feature(feature) -> bool:
    """Whether TFDS stores the image as its raw bytes and shape (as `encrypt --format tfds` writes it)."""
    import tensorflow_datasets as tfds

    if not isinstance(feature, tfds.features.Tensor) or feature.tf_dtype != tf.uint8:
        return False
    serialized = feature.get_serialized_info()  # raw bytes of any shape: {"shape": int, "value": bytes}
    return isinstance(serialized, dict) and set(serialized) == {"shape", "value"}


_RAW_RECORD = {
    "image/value": tf.io.FixedLenFeature([], tf.string),
    "image/shape": tf.io.FixedLenFeature([3], tf.int64),
    "label": tf.io.FixedLenFeature([], tf.int64),
}
_PARSE_BATCH = 256


def _raw_image_records(files: list[str], all_files: list[str]) -> tf.data.Dataset:
    """`(image, label)` from TFRecord files of raw images, parsed and decoded 256 records per op.

    TFDS decodes one example per call, which costs about ten times reading the
    records; here each batch is one `parse_example` and one `decode_raw`. Every
    image must have the shape of the dataset's first (as in `_with_static_shape`),
    which is the images' static shape.
    """
    first = next(iter(tf.data.TFRecordDataset(all_files).take(1)), None)  # the split's first (shards may be empty)
    if first is None:
        raise DatasetUnavailableError(f"{os.path.dirname(all_files[0])} holds no image in this split; encrypt a "
                                      "source with images in it, or name another split.")
    shape = [int(n) for n in tf.io.parse_example([first], _RAW_RECORD)["image/shape"][0]]
    records = tf.data.TFRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE)
    message = _one_size_message(shape)

    def decode(serialized):
        example = tf.io.parse_example(serialized, _RAW_RECORD)
        shapes = example["image/shape"]
        same = tf.reduce_all(tf.equal(shapes, tf.constant(shape, tf.int64)))
        with tf.control_dependencies([tf.debugging.Assert(same, [message, shapes], summarize=12)]):
            pixels = tf.io.decode_raw(example["image/value"], tf.uint8)
        return tf.reshape(pixels, [-1, *shape]), example["label"]

    return records.batch(_PARSE_BATCH).map(decode, num_parallel_calls=tf.data.AUTOTUNE).unbatch()


def _balanced_subset(labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Indices of a class-balanced subset (round-robin over classes), in a seeded order."""
    order = np.random.default_rng(seed).permutation(len(labels))
    if limit is None or limit >= len(labels):
        return np.sort(order)
    per_class = [order[labels[order] == c] for c in np.unique(labels)]
    picked, rank = [], 0
    while len(picked) < limit:
        for members in per_class:
            if rank < len(members) and len(picked) < limit:
                picked.append(members[rank])
        rank += 1
    return np.sort(np.asarray(picked))


def _split_members(names: list[PurePosixPath], split: str, origin: str):
    """(relative class path parts) for members under `<anything>/<split>/<class>/<file>`."""
    chosen = []
    for name in names:
        parts = name.parts
        if name.suffix.lower() not in IMAGE_SUFFIXES or any(p.startswith(".") for p in parts):
            continue
        if len(parts) >= 3 and parts[-3] == split:
            chosen.append((name, parts[-2]))
    if not chosen:
        raise DatasetUnavailableError(
            f"{origin} has no images under a '{split}/<class>/' folder; expected the layout "
            f"ROOT/{split}/<class>/<image>."
        )
    return chosen


def _labelled(members, origin):
    classes = sorted({label for _, label in members})
    index = {name: i for i, name in enumerate(classes)}
    labels = np.array([index[label] for _, label in members], np.int64)
    return classes, labels


def _zip_source(path: Path, split: str, limit, seed) -> ImageSource:
    with zipfile.ZipFile(path) as archive:
        members = _split_members([PurePosixPath(n) for n in archive.namelist()], split, str(path))
        classes, labels = _labelled(members, str(path))
        keep = _balanced_subset(labels, limit, seed)
        # Only the chosen members are read; JPEGs of CIFAR size are ~1 kB each.
        data = [archive.read(str(members[i][0])) for i in keep]
    names = [str(members[i][0]) for i in keep]
    records = tf.data.Dataset.from_tensor_slices((tf.constant(data), labels[keep], tf.constant(names)))
    dataset = records.map(_decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ImageSource(_with_static_shape(dataset), classes, len(keep), f"zip:{path}/{split}", files=names,
                       archive=str(path), records=records, decode=_decode)


def _has_split_folders(path: Path) -> bool:
    return any((path / name).is_dir() for name in ("train", "test"))


def _held_out(members: list, split: str, holdout: float) -> list:
    """The members of `split` when a fraction `holdout` of a single-split folder is the test split.

    Ranked by a hash of the file name, so that the partition is the same in every
    process and for every `limit` and `seed`, and the two splits are disjoint.
    """
    import hashlib

    ranked = sorted(members, key=lambda member: hashlib.sha256(str(member[0]).encode()).digest())
    test_count = max(1, round(holdout * len(ranked)))
    return ranked[:test_count] if split == "test" else ranked[test_count:]


def _folder_source(path: Path, split: str, limit, seed, encrypted, holdout=None) -> ImageSource:
    manifest = read_manifest(path)
    if manifest is not None and not encrypted:
        raise DatasetUnavailableError(
            f"{path} holds images encrypted with the {manifest.scheme!r} scheme (its {MANIFEST_NAME} says so); "
            "load it as encrypted data (encrypted=True, --encrypted) so that it is not encrypted again."
        )
    single_split = False
    if (path / split).is_dir():
        root = path / split
    elif _has_split_folders(path):
        raise DatasetUnavailableError(
            f"{path} has no '{split}' folder; expected the layout {path}/{split}/<class>/<image>."
        )
    else:
        root, single_split = path, holdout is None  # a single split: ROOT/<class>/<image>
    files = sorted(
        PurePosixPath(p.relative_to(root).as_posix())
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    members = [(f, f.parts[0]) for f in files if len(f.parts) == 2]
    if not members:
        raise DatasetUnavailableError(
            f"{root} has no images in class sub-folders; expected {root}/<class>/<image>."
        )
    classes = sorted({label for _, label in members})  # every class, even one the holdout leaves empty
    if holdout is not None and root == path:
        members = _held_out(members, split, holdout)
    labels = np.array([classes.index(label) for _, label in members], np.int64)
    keep = _balanced_subset(labels, limit, seed)
    paths = [str(root / members[i][0]) for i in keep]
    records = tf.data.Dataset.from_tensor_slices((tf.constant(paths), labels[keep]))
    dataset = records.map(_read_and_decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ImageSource(
        _with_static_shape(dataset), classes, len(keep), f"folder:{root}", encrypted=encrypted, manifest=manifest,
        files=paths, records=records, decode=_read_and_decode, single_split=single_split,
    )


def _read_and_decode(path, label):
    return _decode(tf.io.read_file(path), label, path)


def _one_size_message(shape) -> str:
    """What a dataset with an image of another size than its first fails with (the sizes found follow)."""
    return f"keras-lie: all images of a dataset must have the size of the first, {tuple(shape)}; resize them first. Got:"


def _with_static_shape(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Give decoded images the static shape of the first one.

    Encryption and models then see a fixed (H, W) and reuse one precomputed plan;
    an image of another size fails with a message naming both shapes.
    """
    first, _ = next(iter(dataset.take(1)))
    shape = first.shape

    def check(image, label):
        same = tf.reduce_all(tf.equal(tf.shape(image), shape))
        with tf.control_dependencies([tf.debugging.Assert(same, [_one_size_message(shape), tf.shape(image)])]):
            return tf.ensure_shape(image, shape), label

    return dataset.map(check)


def _decode(data, label, name):
    """Decode to RGB by the one rule keras-lie applies everywhere.

    Greyscale is expanded to three equal channels (exact); an alpha channel is
    refused with the file's name, since dropping it would change the image.
    """
    image = tf.io.decode_image(data, channels=0, dtype=tf.uint8, expand_animations=False)
    channels = tf.shape(image)[-1]
    check = tf.debugging.Assert(
        tf.logical_or(tf.equal(channels, 1), tf.equal(channels, 3)),
        ["keras-lie:", name, ALPHA_ADVICE],
    )
    with tf.control_dependencies([check]):
        image = tf.cond(tf.equal(channels, 1), lambda: tf.tile(image, [1, 1, 3]), lambda: image)
    return tf.ensure_shape(image, [None, None, 3]), label
