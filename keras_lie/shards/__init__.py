"""Encrypted data sets at scale: Apache Beam pipelines that write sharded TFDS datasets."""

from keras_lie.shards.beam_pipeline import ShardedDatasetReport, SourceImage, encrypt_to_tfds, list_source
from keras_lie.shards.tfds_format import DATASET_NAME, features, shard_name

__all__ = [
    "DATASET_NAME",
    "ShardedDatasetReport",
    "SourceImage",
    "encrypt_to_tfds",
    "features",
    "list_source",
    "shard_name",
]
