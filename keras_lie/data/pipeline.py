"""`make_pipeline`: encryption, caching, shuffling, augmentation, batching and prefetching."""

from __future__ import annotations

import os

import tensorflow as tf

from keras_lie.data.augment import random_block_augment
from keras_lie.data.sources import ImageSource
from keras_lie.encryption_spec import EncryptionSpec
from keras_lie.keys import Key, as_key
from keras_lie.registry import SCHEME_RECORDS
from keras_lie.schemes import get_scheme

# Schemes with which block-aligned augmentation commutes (see `augment`).
AUGMENTABLE_SCHEMES = tuple(name for name, record in SCHEME_RECORDS.items() if record.augmentations)


def make_pipeline(
    source: ImageSource,
    key: Key | str | os.PathLike | None = None,
    *,
    batch_size: int = 128,
    training: bool = False,
    augment: bool | None = None,
    pad_blocks: int = 1,
    flip: bool = True,
    block_size: int | None = None,
    cache: bool = True,
    seed: int = 0,
) -> tf.data.Dataset:
    """A `tf.data` pipeline of `(images float32 (N, H, W, C) in 0..255, labels)` batches.

    Order: encrypt with `key` (skipped for plain keys and already-encrypted
    sources), cache, then for training shuffle (seeded, reshuffled every
    epoch) and augment with block-aligned operations that commute with the
    block-wise schemes, then batch and prefetch.

    Args:
        source: an `ImageSource` (see `load_source`).
        key: the key to encrypt with (None: plain).
        training: shuffle and augment.
        augment: block-aligned augmentation (default: on for training, except for
            the cat map, where no spatial augmentation is valid).
        pad_blocks: maximum translation, in blocks.
        block_size: augmentation block size (default: the key's; 4 without a key).
        seed: for shuffling and augmentation; the same seed, the same batches.
    """
    key = as_key(key) if key is not None else None
    spec = EncryptionSpec.of(key)
    dataset = source.dataset
    if key is not None and key.scheme != "plain" and not source.encrypted:
        scheme = get_scheme(key, jit_compile=False)
        dataset = dataset.map(
            lambda image, label: (scheme.encrypt(image), label),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    if cache:
        dataset = dataset.cache()
    if augment is None:
        augment = training and spec.scheme in AUGMENTABLE_SCHEMES
    if augment and spec.scheme == "cat_map":
        raise ValueError(
            "No spatial augmentation commutes with the cat map; pass augment=False."
        )
    if training:
        dataset = dataset.shuffle(min(source.size, 50_000), seed=seed, reshuffle_each_iteration=True)
    if augment:
        m = block_size or spec.augmentation_block_size
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            lambda example, s: (random_block_augment(example[0], s, m, pad_blocks, flip), example[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    dataset = dataset.batch(batch_size, drop_remainder=False)
    dataset = dataset.map(lambda images, labels: (tf.cast(images, tf.float32), labels))
    return dataset.prefetch(tf.data.AUTOTUNE)
