"""Data: image files and folders, image sources, block-aligned augmentation, and tf.data pipelines."""

from keras_lie.data.augment import block_flip, block_translate, random_block_augment
from keras_lie.data.image_files import FileReport, read_image, transform_path, write_png
from keras_lie.data.pipeline import make_pipeline
from keras_lie.data.sources import DatasetUnavailableError, ImageSource, load_source

__all__ = [
    "DatasetUnavailableError",
    "FileReport",
    "ImageSource",
    "block_flip",
    "block_translate",
    "load_source",
    "make_pipeline",
    "random_block_augment",
    "read_image",
    "transform_path",
    "write_png",
]
