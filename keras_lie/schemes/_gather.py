"""The two kernels every scheme reduces to, and the block-to-image index expansion.

Each scheme moves bytes (or 4-bit nibbles) of an image to other positions and
possibly reverses them. For an image of a given size that is one gather over
the flattened H*W*C bytes, with an index (and, for nibbles, shifts and XOR
masks) computed once from the key. Gathering on the flat image avoids the two
6-D transposes that cutting the image into blocks would cost, and under XLA
the gather and the bit operations fuse into one loop.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from keras_lie.blocks import offset_coordinates


@dataclasses.dataclass(frozen=True)
class BytePlan:
    """out[p] = in[index[p]] over the flattened H*W*C bytes."""

    index: tf.Tensor  # int32 [H*W*C]


@dataclasses.dataclass(frozen=True)
class NibblePlan:
    """out[p] = (hi << 4) | lo, each half taken from a nibble of another byte.

    lo = ((in[lo_index[p]] >> lo_shift[p]) & 15) ^ lo_xor[p], likewise for hi.
    A shift of 4 takes the source byte's upper nibble, 0 its lower; an XOR with
    15 is the intensity reversal 15 - x of a 4-bit value.
    """

    lo_index: tf.Tensor
    lo_shift: tf.Tensor
    lo_xor: tf.Tensor
    hi_index: tf.Tensor
    hi_shift: tf.Tensor
    hi_xor: tf.Tensor


def apply_plan(flat_images: tf.Tensor, plan: BytePlan | NibblePlan) -> tf.Tensor:
    """Apply a plan to uint8 images of shape (N, H*W*C)."""
    if isinstance(plan, BytePlan):
        return tf.gather(flat_images, plan.index, axis=1)
    bits = tf.bitwise
    lo = tf.gather(flat_images, plan.lo_index, axis=1)
    hi = tf.gather(flat_images, plan.hi_index, axis=1)
    lo = bits.bitwise_xor(bits.bitwise_and(bits.right_shift(lo, plan.lo_shift), 15), plan.lo_xor)
    hi = bits.bitwise_xor(bits.bitwise_and(bits.right_shift(hi, plan.hi_shift), 15), plan.hi_xor)
    return bits.bitwise_or(bits.left_shift(hi, 4), lo)


def block_positions(height, width, channels: int, block_size: int):
    """For every flat image position: its block's origin and its offset inside the block.

    Returns:
        (block_origin, offset): int32 tensors of shape [H*W*C]. `block_origin` is
        the flat index of the block's first byte; `offset` is the position inside
        the block in (row, column, channel) order, 0 <= offset < M*M*C.
    """
    m = block_size
    rows = tf.range(height, dtype=tf.int32)[:, None, None]
    cols = tf.range(width, dtype=tf.int32)[None, :, None]
    chans = tf.range(channels, dtype=tf.int32)[None, None, :]
    offset = ((rows % m) * m + cols % m) * channels + chans
    origin = ((rows - rows % m) * width + (cols - cols % m)) * channels + tf.zeros_like(chans)
    return tf.reshape(origin, [-1]), tf.reshape(offset, [-1])


def block_offset_to_image_delta(block_offsets, width, channels: int, block_size: int):
    """Flat image distance from a block's first byte to the byte at `block_offsets`."""
    block_offsets = tf.convert_to_tensor(block_offsets, dtype=tf.int32)
    row, col, chan = offset_coordinates(block_offsets, block_size, channels)
    return (row * width + col) * channels + chan


def apply_plan_arithmetic(flat_images: tf.Tensor, plan: BytePlan | NibblePlan) -> tf.Tensor:
    """`apply_plan` with integer arithmetic instead of bit operations, for TFLite's builtin ops.

    For 4-bit values, `(v >> s) & 15` is `(v // 2**s) % 16`, `v ^ 15` is `15 - v`,
    and `(hi << 4) | lo` is `16 * hi + lo`; the result is bit-identical.
    Takes and returns uint8 `(N, H*W*C)`.
    """
    x = tf.cast(flat_images, tf.int32)
    if isinstance(plan, BytePlan):
        return tf.cast(tf.gather(x, plan.index, axis=1), tf.uint8)

    def nibble(index, shift, xor):
        divisor = 1 + 15 * (tf.cast(shift, tf.int32) // 4)  # 2**shift for shifts of 0 and 4
        value = tf.math.floormod(tf.math.floordiv(tf.gather(x, index, axis=1), divisor), 16)
        flip = tf.cast(tf.cast(xor, tf.int32) > 0, tf.int32)
        return value + flip * (15 - 2 * value)

    lo = nibble(plan.lo_index, plan.lo_shift, plan.lo_xor)
    hi = nibble(plan.hi_index, plan.hi_shift, plan.hi_xor)
    return tf.cast(16 * hi + lo, tf.uint8)
