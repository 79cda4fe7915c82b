"""Key space of each scheme, and what brute force would cost."""

from __future__ import annotations

import math

from keras_lie.keys import POSITION_KEYED_SCHEMES


def key_space_bits(scheme: str, block_size: int = 4, channels: int = 3, image_side: int = 32) -> dict:
    """log2 of the number of distinct keys, nominal and effective.

    - learnable: permutations of the 2d nibbles of a block, d = M*M*C: log2((2d)!);
    - block_shuffle: permutations of the d bytes: log2(d!);
    - cat_map: a 256-bit secret, but what it selects is small: for each of the five
      maps, (a mod n) x (b mod n) x 9 iteration counts (n = s/2 for the quadrants,
      s for the whole square), and the 63 bits of the channel-rotation hash, so the
      effective space is bounded by their sum;
    - ele: for each of the n = (H/M)(W/M) block positions its own nibble permutation,
      and a permutation of the positions: n log2((2d)!) + log2(n!);
    - etc: per position one of 8 symmetries of the square, a negation or not and a
      permutation of the C channels (as `EtCKey.generate` draws them), and the
      block permutation: n log2(8 * 2 * C!) + log2(n!);
    - plain: none.

    `image_side` is the side of the square images the position-keyed keys are for.
    """
    if scheme in POSITION_KEYED_SCHEMES:
        d = block_size * block_size * channels
        n = (image_side // block_size) ** 2
        per_block = math.lgamma(2 * d + 1) if scheme == "ele" else math.log(8 * 2 * math.factorial(channels))
        bits = (n * per_block + math.lgamma(n + 1)) / math.log(2)
        return {"nominal_bits": bits, "effective_bits": bits}
    if scheme == "learnable":
        d = block_size * block_size * channels
        bits = math.lgamma(2 * d + 1) / math.log(2)
        return {"nominal_bits": bits, "effective_bits": bits}
    if scheme == "block_shuffle":
        d = block_size * block_size * channels
        bits = math.lgamma(d + 1) / math.log(2)
        return {"nominal_bits": bits, "effective_bits": bits}
    if scheme == "cat_map":
        side = image_side - image_side % 2
        half = side // 2
        maps = 4 * math.log2(half * half * 9) + math.log2(side * side * 9)
        rotation = 63 if channels > 1 else 0
        return {"nominal_bits": 256.0, "effective_bits": min(256.0, maps + rotation)}
    return {"nominal_bits": 0.0, "effective_bits": 0.0}


def brute_force_log10_years(bits: float, trials_per_second: float) -> float:
    """log10 of the expected years to find a key by trying half of the key space.

    A logarithm, since the counts (up to 2**2800 for 8 x 8 blocks) overflow floats.
    """
    if bits <= 0:
        return float("-inf")
    return (bits - 1) * math.log10(2) - math.log10(trials_per_second) - math.log10(365.25 * 24 * 3600)
