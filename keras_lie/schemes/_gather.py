"""The two kernels every scheme reduces to, the block-to-image index expansion, and lane packing.

Each scheme moves bytes (or 4-bit nibbles) of an image to other positions and
possibly reverses them. For an image of a given size that is one gather over
the flattened H*W*C bytes, with an index (and, for nibbles, shifts and XOR
masks) computed once from the key. Gathering on the flat image avoids the two
6-D transposes that cutting the image into blocks would cost, and under XLA
the gather and the bit operations fuse into one loop.

A nibble plan takes two gathers per output byte, and XLA's CPU gather costs
about the same per element whatever its width. So on a CPU, units that share
one plan (images, or the rows of blocks of the proposed scheme, whose key
serves every block) are packed eight to a 64-bit word, a byte each
(`pack_lanes`); the same plan on those words (`lane_plan`, `apply_plan`) moves
eight bytes per gathered element, and `unpack_lanes` restores the bytes. The
plan's reversals are XORed in while packing (`packing_xor`). The
three run as separate XLA programs: compiled together, XLA fuses the packing
into each gather and recomputes it per element, which is slower than the flat
gather. The words are signed (int64): XLA's CPU code for their casts and
shifts measured faster than for uint64, and the masks of `apply_plan` make the
arithmetic right shift exact.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import tensorflow as tf

from keras_lie.blocks import offset_coordinates


@dataclasses.dataclass(frozen=True)
class BytePlan:
    """out[p] = in[index[p]] ^ xor[p] over the flattened H*W*C bytes (no XOR where `xor` is None).

    An XOR with 255 is the negative-positive transform 255 - x of a byte.
    """

    index: tf.Tensor  # int32 [H*W*C]
    xor: tf.Tensor | None = None  # uint8 [H*W*C]


@dataclasses.dataclass(frozen=True)
class NibblePlan:
    """out[p] = (hi << 4) | lo, each half taken from a nibble of another byte.

    lo = ((in[lo_index[p]] >> lo_shift[p]) & 15) ^ lo_xor[p], likewise for hi.
    A shift of 4 takes the source byte's upper nibble, 0 its lower; an XOR with
    15 is the intensity reversal 15 - x of a 4-bit value.
    """

    lo_index: tf.Tensor
    lo_shift: tf.Tensor
    lo_xor: tf.Tensor | None  # None: no XOR (a `lane_plan`)
    hi_index: tf.Tensor
    hi_shift: tf.Tensor
    hi_xor: tf.Tensor | None


LANES = 8  # units packed into one 64-bit word, one byte each
LANE_WORD = tf.int64  # the words' dtype (see the module docstring for why signed)
_EVERY_LANE = 0x0101010101010101  # a byte value times this is that byte in every lane
_LOW_NIBBLES = {tf.uint8: 0x0F, LANE_WORD: 0x0F * _EVERY_LANE}


def apply_plan(flat_images: tf.Tensor, plan: BytePlan | NibblePlan) -> tf.Tensor:
    """Apply a plan to uint8 images of shape (N, H*W*C).

    Also applies a `lane_plan` to the int64 words of `pack_lanes`, with the
    same result byte for byte in every lane.
    """
    bits = tf.bitwise
    if isinstance(plan, BytePlan):
        moved = tf.gather(flat_images, plan.index, axis=1)
        return moved if plan.xor is None else bits.bitwise_xor(moved, plan.xor)
    low_nibbles = tf.constant(_LOW_NIBBLES[flat_images.dtype], flat_images.dtype)
    lo = tf.gather(flat_images, plan.lo_index, axis=1)
    hi = tf.gather(flat_images, plan.hi_index, axis=1)
    lo = bits.bitwise_and(bits.right_shift(lo, plan.lo_shift), low_nibbles)
    hi = bits.bitwise_and(bits.right_shift(hi, plan.hi_shift), low_nibbles)
    if plan.lo_xor is not None:
        lo = bits.bitwise_xor(lo, plan.lo_xor)
    if plan.hi_xor is not None:
        hi = bits.bitwise_xor(hi, plan.hi_xor)
    return bits.bitwise_or(bits.left_shift(hi, tf.constant(4, flat_images.dtype)), lo)


def lane_plan(plan: NibblePlan) -> NibblePlan:
    """The moves of a plan for `pack_lanes` words, as constants (shifts as int64); no XOR.

    Its reversals are done while packing (`packing_xor`). A right shift of a
    word by 4 also moves the next lane's low nibble into this lane's high
    nibble (and, in the top lane, copies of the sign bit); the mask of
    `apply_plan` clears it, and `hi << 4` stays inside each lane because only
    low nibbles are left. Called while a function traces, the plan is compiled
    into the XLA kernel as constants, which measured faster than passing it in.
    """
    def constant(values, dtype):
        return tf.constant(np.asarray(values), dtype)

    return NibblePlan(
        lo_index=constant(plan.lo_index, tf.int32), lo_shift=constant(plan.lo_shift, LANE_WORD), lo_xor=None,
        hi_index=constant(plan.hi_index, tf.int32), hi_shift=constant(plan.hi_shift, LANE_WORD), hi_xor=None,
    )


def packing_xor(plan: NibblePlan) -> np.ndarray:
    """The plan's reversals moved to its input, for `pack_lanes`: int64 `[L]`, a byte mask in all eight lanes.

    XORing 15 into a nibble before it moves is XORing it after, so a plan that
    takes each input nibble once (every scheme's: they are invertible; checked)
    can leave its XORs to the packing. Packing is bound by memory and absorbs
    them; the plan, bound by its work per element, saves two a word (measured
    side by side: the whole kernel 2 to 11% faster, 4% by the median pair).
    """
    parts = [tuple(np.asarray(v) for v in part)
             for part in ((plan.lo_index, plan.lo_shift, plan.lo_xor), (plan.hi_index, plan.hi_shift, plan.hi_xor))]
    masks = np.zeros(parts[0][0].shape, np.uint8)
    for index, shift, xor in parts:
        np.bitwise_xor.at(masks, index, np.left_shift(xor, shift).astype(np.uint8))
    for index, shift, xor in parts:
        if not np.array_equal(np.right_shift(masks[index], shift) & 15, xor):
            raise ValueError("This nibble plan takes some input nibble more than once, so its reversals cannot be "
                             "done while packing; apply it with apply_plan on the bytes.")
    return (masks.astype(np.uint64) * np.uint64(_EVERY_LANE)).view(np.int64)


@tf.function(jit_compile=True, autograph=False,
             input_signature=[tf.TensorSpec([None, None], tf.uint8), tf.TensorSpec([None], LANE_WORD)])
def pack_lanes(units: tf.Tensor, xor: tf.Tensor) -> tf.Tensor:
    """(U, L) uint8 -> (ceil(U / 8), L) int64: byte j of word (g, p), from the least significant, is units[8g + j, p].

    XORed with `xor[p]` (`packing_xor`; zeros for none). Missing units of the last word are zeros before it.
    """
    rows = tf.shape(units)[0]
    padded = tf.pad(units, [[0, (-rows) % LANES], [0, 0]])
    lanes = tf.reshape(padded, [-1, LANES, tf.shape(units)[1]])
    words = tf.cast(lanes[:, 0], LANE_WORD)
    for lane in range(1, LANES):
        words = tf.bitwise.bitwise_or(
            words, tf.bitwise.left_shift(tf.cast(lanes[:, lane], LANE_WORD), tf.constant(8 * lane, LANE_WORD))
        )
    return tf.bitwise.bitwise_xor(words, xor)


@tf.function(jit_compile=True, autograph=False,
             input_signature=[tf.TensorSpec([None, None], LANE_WORD), tf.TensorSpec([None, None], tf.uint8)])
def unpack_lanes(words: tf.Tensor, units: tf.Tensor) -> tf.Tensor:
    """The inverse of `pack_lanes`: (G, L) int64 -> (U, L) uint8, U the rows of `units` (read for its shape).

    A bitcast and one transpose (measured faster than shifting each lane out).
    """
    lanes = tf.bitcast(words, tf.uint8)  # (G, L, 8) in memory order
    if sys.byteorder == "big":
        lanes = tf.reverse(lanes, [2])  # the least significant byte first, as packed
    lanes = tf.transpose(lanes, [0, 2, 1])
    return tf.reshape(lanes, [-1, tf.shape(words)[1]])[: tf.shape(units)[0]]


def blockwise_plan(height, width, channels: int, block_size: int, source, xor=None, *, block_source=None,
                   nibbles: bool = False) -> BytePlan | NibblePlan:
    """The plan of a block-wise scheme from its maps of one block: one for all blocks, or one per block.

    Args:
        source: for each position of an output block, the position in its input
            block it comes from: bytes (d = M*M*C positions) or, with `nibbles`,
            nibbles (2d positions: the d lower nibbles, then the d upper). Shape
            `(positions,)` for a map shared by every block, or `(blocks,
            positions)` with one row per output block (raster order).
        xor: the same shape: what is XORed into each value (15 reverses a nibble,
            255 is the negative-positive transform of a byte), or None.
        block_source: `(blocks,)`, the input block each output block comes from
            (None: the block at the same position).

    Height and width may be tensors for shared maps; per-block maps fit one size.
    """
    m, d = block_size, block_size * block_size * channels
    source = np.asarray(source)
    per_block = source.ndim == 2
    block, offset = block_indices(height, width, channels, block_size)
    in_block = block if block_source is None else tf.gather(tf.constant(block_source, tf.int32), block)
    columns = width // m
    origin = ((in_block // columns) * m * width + (in_block % columns) * m) * channels

    def lookup(table, dtype, position):
        table = tf.constant(np.asarray(table), dtype)
        if per_block:
            return tf.gather(tf.reshape(table, [-1]), block * table.shape[1] + position)
        return tf.gather(table, position)

    def part(position):
        taken = lookup(source % d if nibbles else source, tf.int32, position)
        index = origin + block_offset_to_image_delta(taken, width, channels, block_size)
        flip = None if xor is None else lookup(xor, tf.uint8, position)
        return index, lookup(4 * (source >= d), tf.uint8, position) if nibbles else None, flip

    if not nibbles:
        index, _, flip = part(offset)
        return BytePlan(index=index, xor=flip)
    lo_index, lo_shift, lo_xor = part(offset)
    hi_index, hi_shift, hi_xor = part(offset + d)
    zeros = tf.zeros_like(lo_shift)
    return NibblePlan(lo_index, lo_shift, zeros if lo_xor is None else lo_xor,
                      hi_index, hi_shift, zeros if hi_xor is None else hi_xor)


def block_indices(height, width, channels: int, block_size: int):
    """For every flat image position: its block's raster index and its offset inside the block.

    Returns:
        (block, offset): int32 tensors of shape [H*W*C]; 0 <= block < (H/M)*(W/M),
        0 <= offset < M*M*C in (row, column, channel) order.
    """
    m = block_size
    rows = tf.range(height, dtype=tf.int32)[:, None, None]
    cols = tf.range(width, dtype=tf.int32)[None, :, None]
    chans = tf.range(channels, dtype=tf.int32)[None, None, :]
    offset = ((rows % m) * m + cols % m) * channels + chans
    block = (rows // m) * (width // m) + cols // m + tf.zeros_like(chans)
    return tf.reshape(block, [-1]), tf.reshape(offset, [-1])


def block_offset_to_image_delta(block_offsets, width, channels: int, block_size: int):
    """Flat image distance from a block's first byte to the byte at `block_offsets`."""
    block_offsets = tf.convert_to_tensor(block_offsets, dtype=tf.int32)
    row, col, chan = offset_coordinates(block_offsets, block_size, channels)
    return (row * width + col) * channels + chan


def apply_plan_arithmetic(flat_images: tf.Tensor, plan: BytePlan | NibblePlan) -> tf.Tensor:
    """`apply_plan` with integer arithmetic instead of bit operations, for TFLite's builtin ops.

    For 4-bit values, `(v >> s) & 15` is `(v // 2**s) % 16`, `v ^ 15` is `15 - v`,
    and `(hi << 4) | lo` is `16 * hi + lo`; for bytes, `v ^ 255` is `255 - v`. The
    result is bit-identical. Takes and returns uint8 `(N, H*W*C)`.
    """
    x = tf.cast(flat_images, tf.int32)
    if isinstance(plan, BytePlan):
        moved = tf.gather(x, plan.index, axis=1)
        if plan.xor is not None:
            flip = tf.cast(tf.cast(plan.xor, tf.int32) > 0, tf.int32)
            moved = moved + flip * (255 - 2 * moved)
        return tf.cast(moved, tf.uint8)

    def nibble(index, shift, xor):
        divisor = 1 + 15 * (tf.cast(shift, tf.int32) // 4)  # 2**shift for shifts of 0 and 4
        value = tf.math.floormod(tf.math.floordiv(tf.gather(x, index, axis=1), divisor), 16)
        flip = tf.cast(tf.cast(xor, tf.int32) > 0, tf.int32)
        return value + flip * (15 - 2 * value)

    lo = nibble(plan.lo_index, plan.lo_shift, plan.lo_xor)
    hi = nibble(plan.hi_index, plan.hi_shift, plan.hi_xor)
    return tf.cast(16 * hi + lo, tf.uint8)
