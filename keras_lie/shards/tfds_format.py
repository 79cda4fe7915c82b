"""Encrypted datasets in the TensorFlow Datasets format: TFRecord shards and TFDS metadata.

A directory written by `keras-lie encrypt --format tfds` is a prepared TFDS
dataset, loadable without keras-lie:

    tfds.builder_from_directory(OUT).as_dataset(split="train")

Each example has `image` (uint8 (H, W, C), stored raw: an encrypted image barely
compresses, and raw bytes are read without decoding), `label` (a
`ClassLabel` with the class names) and `id` (the source file's path under the
source root, stable across runs). keras-lie's own manifest sits beside the
metadata (`keras-lie-dataset.json`, layout "tfds") with the scheme, block size,
key fingerprint, counts, failures and every shard's SHA-256.
"""

from __future__ import annotations

import numpy as np

DATASET_NAME = "keras_lie_encrypted"
# TFDS's default template: keras_lie_encrypted-train.tfrecord-00000-of-00004
FILENAME_TEMPLATE = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"
# About the middle of TFDS's recommended 100-200 MB per shard.
DEFAULT_SHARD_BYTES = 150 * 1024 * 1024


def features(class_names: list[str], channels: int):
    """The `tfds.features.FeaturesDict` of an encrypted dataset.

    The image is a uint8 tensor of any height and width, stored as its raw bytes
    with its shape: lossless, as large as a PNG of an encrypted image (whose
    pixels look random and do not compress), and read with no decoding.
    """
    import tensorflow_datasets as tfds

    return tfds.features.FeaturesDict({
        "image": tfds.features.Tensor(shape=(None, None, channels), dtype=np.uint8,
                                      encoding=tfds.features.Encoding.BYTES),
        "label": tfds.features.ClassLabel(names=list(class_names)),
        "id": tfds.features.Text(),
    })


def shard_name(split: str, index: int, count: int) -> str:
    """The file name of shard `index` of `count` of `split`, as TFDS names them."""
    return f"{DATASET_NAME}-{split}.tfrecord-{index:05d}-of-{count:05d}"


def write_metadata(folder: str, class_names: list[str], channels: int, shard_lengths: dict[str, list[int]],
                   shard_bytes: dict[str, int]) -> None:
    """Write TFDS's dataset_info.json and features.json for shards already in `folder`.

    The split information is given (counted while the shards were written), so
    no shard is read again, however large the dataset.
    """
    import tensorflow_datasets as tfds

    template = tfds.core.ShardedFileTemplate(data_dir=folder, template=FILENAME_TEMPLATE,
                                             dataset_name=DATASET_NAME, filetype_suffix="tfrecord")
    split_infos = [
        tfds.core.SplitInfo(name=split, shard_lengths=list(lengths), num_bytes=int(shard_bytes[split]),
                            filename_template=template.replace(split=split))
        for split, lengths in sorted(shard_lengths.items())
    ]
    tfds.folder_dataset.write_metadata(
        data_dir=folder, features=features(class_names, channels), split_infos=split_infos,
        filename_template=template, check_data=False, version="1.0.0",
        description="Images encrypted with keras-lie (learnable image encryption); see keras-lie-dataset.json.",
    )
