"""Key space: nominal and effective bits, and what brute force would cost."""

import numpy as np
import pytest

from keras_lie.security import brute_force_log10_years, key_space_bits


def test_key_space():
    assert key_space_bits("block_shuffle", 2, 1)["nominal_bits"] == pytest.approx(np.log2(24))
    assert key_space_bits("learnable", 4, 3)["effective_bits"] > 400
    cat = key_space_bits("cat_map", image_side=32)
    assert cat["nominal_bits"] == 256 and cat["effective_bits"] < 256


def test_brute_force_cost_for_huge_key_spaces():
    bits = key_space_bits("learnable", 8, 3)["effective_bits"]  # thousands of bits: 2**bits overflows
    assert brute_force_log10_years(bits, 1e6) > 700
    assert brute_force_log10_years(0, 1e6) == float("-inf")
