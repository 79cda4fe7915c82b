"""Data: image sources, block-aligned augmentation, and tf.data pipelines."""

from keras_lie.data.augment import block_flip, block_translate, random_block_augment
from keras_lie.data.pipeline import make_pipeline
from keras_lie.data.sources import DatasetUnavailableError, ImageSource, load_source

__all__ = [
    "DatasetUnavailableError",
    "ImageSource",
    "block_flip",
    "block_translate",
    "load_source",
    "make_pipeline",
    "random_block_augment",
]
