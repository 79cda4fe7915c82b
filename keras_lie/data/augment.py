"""Augmentation that stays valid on block-wise encrypted images.

A trainer holds only encrypted images, and an ordinary random crop or flip of
an encrypted image is not the encryption of a cropped or flipped image. The
operations here move whole M x M blocks and never change a block's contents,
and pad with copies of whole edge blocks, so for the block-wise schemes
(`learnable`, `block_shuffle`), which encrypt every block with the same key:

    augment(encrypt(x)) == encrypt(augment(x))

exactly. Which augmentations are valid for which scheme:

| augmentation | plain | block_shuffle | learnable | cat_map |
| --- | --- | --- | --- | --- |
| `block_translate` / random block crop | yes | yes | yes | no |
| `block_flip` (mirror the order of blocks, not their contents) | yes | yes | yes | no |
| ordinary pixel crops, flips, colour changes | yes | no | no | no |

The cat map permutes the whole image, so no spatial augmentation commutes with it.
"""

from __future__ import annotations

import tensorflow as tf


def block_translate(image: tf.Tensor, shift_rows, shift_cols, block_size: int, pad_blocks: int) -> tf.Tensor:
    """Shift an image (H, W, C) by whole blocks, filling with copies of its edge blocks.

    `shift_rows`, `shift_cols` are in blocks, in [-pad_blocks, pad_blocks]; a
    positive shift moves the content down / right.
    """
    m, p = block_size, pad_blocks
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    padded = _pad_with_edge_blocks(image, m, p)
    top = (p - shift_rows) * m
    left = (p - shift_cols) * m
    return padded[top : top + height, left : left + width]


def block_flip(image: tf.Tensor, block_size: int) -> tf.Tensor:
    """Mirror the left-right order of the blocks of an image (H, W, C), keeping each block intact."""
    m = block_size
    height, width, channels = tf.shape(image)[0], tf.shape(image)[1], tf.shape(image)[2]
    blocks = tf.reshape(image, [height, width // m, m, channels])
    return tf.reshape(tf.reverse(blocks, axis=[1]), [height, width, channels])


def random_block_augment(image: tf.Tensor, seed: tf.Tensor, block_size: int, pad_blocks: int = 1,
                         flip: bool = True) -> tf.Tensor:
    """A random block translation (and block flip) drawn from a stateless `seed` (shape [2]).

    The same seed gives the same augmentation, so pipelines are deterministic.
    """
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
    shift = tf.random.stateless_uniform([2], seeds[0], minval=-pad_blocks, maxval=pad_blocks + 1, dtype=tf.int32)
    image = block_translate(image, shift[0], shift[1], block_size, pad_blocks) if pad_blocks else image
    if flip:
        do_flip = tf.random.stateless_uniform([], seeds[1]) < 0.5
        image = tf.cond(do_flip, lambda: block_flip(image, block_size), lambda: image)
    return image


def _pad_with_edge_blocks(image, m, p):
    if p == 0:
        return image
    top = tf.tile(image[:m], [p, 1, 1])
    bottom = tf.tile(image[-m:], [p, 1, 1])
    image = tf.concat([top, image, bottom], axis=0)
    left = tf.tile(image[:, :m], [1, p, 1])
    right = tf.tile(image[:, -m:], [1, p, 1])
    return tf.concat([left, image, right], axis=1)
