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
        key: the key to encrypt with (None: plain images, or an encrypted source
            as its manifest describes it).
        training: shuffle and augment.
        augment: block-aligned augmentation (default: on for training where the
            scheme's record allows it: plain, block shuffle and learnable; the cat
            map, ELE and EtC refuse it, as no spatial augmentation commutes with them).
        pad_blocks: maximum translation, in blocks.
        block_size: augmentation block size (default: the key's; 4 without a key).
        seed: for shuffling and augmentation; the same seed, the same batches.
    """
    key = as_key(key) if key is not None else None
    # The trainer holds no key: an encrypted source's manifest says what its images are.
    spec = EncryptionSpec.of(key if key is not None or source.manifest is None else source.manifest)
    if augment is None:
        augment = training and spec.scheme in AUGMENTABLE_SCHEMES
    if augment and spec.scheme not in AUGMENTABLE_SCHEMES:
        raise ValueError(
            f"No spatial augmentation commutes with the {spec.record.label} scheme (it would move "
            "blocks or pixels to where another key applies); pass augment=False."
        )
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
