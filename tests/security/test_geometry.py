"""The index maths the attacks share: units of images, and the 8 symmetries of the square."""

import numpy as np
import pytest

from keras_lie.security.geometry import from_units, orient, units
from keras_lie.security.result import DecryptionMap


@pytest.mark.parametrize("unit, per_byte", [("byte", 1), ("nibble", 2)])
def test_units_round_trip(unit, per_byte, rng):
    x = rng.integers(0, 256, (3, 4, 6, 3), dtype=np.uint8)
    flat = units(x, unit)
    assert flat.shape == (3, 4 * 6 * 3 * per_byte) and flat.max() < (16 if unit == "nibble" else 256)
    np.testing.assert_array_equal(from_units(flat, unit, x.shape), x)
    if unit == "nibble":  # the lower nibbles of all bytes, then the upper ones
        np.testing.assert_array_equal(flat[:, :72], x.reshape(3, -1) & 15)


def test_an_identity_map_decrypts_to_the_input_and_undecided_units_to_zero(rng):
    x = rng.integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
    count = 2 * x[0].size
    identity = DecryptionMap("nibble", (4, 4, 3), np.arange(count), np.zeros(count, bool))
    assert identity.complete
    np.testing.assert_array_equal(identity.decrypt(x), x)
    reversed_ = DecryptionMap("nibble", (4, 4, 3), np.arange(count), np.ones(count, bool))
    np.testing.assert_array_equal(reversed_.decrypt(x), 255 - x)  # every nibble 15 - v: the byte 255 - v
    partial = DecryptionMap("byte", (4, 4, 3), np.where(np.arange(x[0].size) < 3, -1, np.arange(x[0].size)),
                            np.zeros(x[0].size, bool))
    assert not partial.complete
    assert (partial.decrypt(x).reshape(2, -1)[:, :3] == 0).all()


def test_orient_gives_the_8_symmetries_of_the_square():
    square = np.arange(9).reshape(3, 3)
    images = [orient(square, o) for o in range(8)]
    assert len({image.tobytes() for image in images}) == 8
    np.testing.assert_array_equal(orient(square, 1), np.rot90(square))
    np.testing.assert_array_equal(orient(square, 4), square[:, ::-1])
    batch = np.stack([square, square + 9])  # the last two axes only
    np.testing.assert_array_equal(orient(batch, 5)[1], orient(square + 9, 5))
