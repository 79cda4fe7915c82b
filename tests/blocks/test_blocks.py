"""Block and nibble maths: the inverses, the orders the encryption uses, and one set of names."""

import numpy as np
import pytest

import keras_lie.blocks
from keras_lie.blocks import grid, nibble_split, statistics


@pytest.mark.parametrize("block_size, channels", [(1, 1), (2, 3), (4, 3), (8, 1)])
def test_the_block_grid_and_space_to_depth_agree_and_invert(block_size, channels, rng):
    images = rng.integers(0, 256, (2, 4 * block_size, 2 * block_size, channels), dtype=np.uint8)
    blocks = grid.block_grid(images, block_size)
    assert blocks.shape == (2, 4, 2, block_size * block_size * channels)
    np.testing.assert_array_equal(grid.from_block_grid(blocks, block_size, channels), images)
    np.testing.assert_array_equal(np.asarray(grid.space_to_depth(images, block_size)), blocks)
    np.testing.assert_array_equal(np.asarray(grid.depth_to_space(blocks, block_size)), images)
    # Flat offset -> (row, column, channel): the order a block is flattened in.
    rows, columns, chans = grid.offset_coordinates(np.arange(blocks.shape[-1]), block_size, channels)
    np.testing.assert_array_equal(blocks[0, 1, 1], images[0, block_size + rows, block_size + columns, chans])


def test_nibbles_come_lower_first_then_upper_in_numpy_and_keras(rng):
    values = rng.integers(0, 256, (3, 5, 4), dtype=np.uint8)
    split = nibble_split.nibbles(values)
    np.testing.assert_array_equal(split[..., :4] + 16 * split[..., 4:], values)
    assert split[..., :4].max() <= 15 and split[..., 4:].max() <= 15
    np.testing.assert_array_equal(np.asarray(nibble_split.split_nibbles(values)), split)
    assert nibble_split.nibbles_per_block(4, 3) == 96


def test_reversal_parity_is_where_the_mask_differs_between_source_and_place(rng):
    key = rng.permutation(96)
    mask = nibble_split.reversal_mask(key)
    assert mask.sum() == np.sum(key > 48)  # strictly greater, as the authors' code
    source = rng.permutation(96)
    np.testing.assert_array_equal(nibble_split.reversal_parity(source, mask), mask[source] != mask)


def test_upper_nibbles_are_found_from_correlated_blocks(rng):
    # Smooth images: a block's upper nibbles agree with each other; shuffle the nibble positions.
    smooth = np.repeat(np.repeat(rng.integers(0, 256, (200, 4, 4, 1)), 4, axis=1), 4, axis=2).astype(np.uint8)
    noise = rng.integers(0, 16, smooth.shape).astype(np.uint8)
    images = (smooth & 0xF0) | noise
    upper, parity = statistics.estimate_upper_nibbles(images, 4)
    np.testing.assert_array_equal(upper, np.arange(16, 32))
    assert abs(parity.sum()) == 16  # no reversals: one sign for all


def test_the_package_names_are_the_modules_names():
    for name in keras_lie.blocks.__all__:
        owner = next(module for module in (grid, nibble_split, statistics) if hasattr(module, name))
        assert getattr(keras_lie.blocks, name) is getattr(owner, name), name
