"""Combined Arnold cat map: the paper's hiding-but-not-learnable baseline (its reference [9])."""

from __future__ import annotations

import hashlib

import tensorflow as tf

from keras_lie.errors import ImageShapeError
from keras_lie.keys import CatMapKey
from keras_lie.schemes._gather import BytePlan
from keras_lie.schemes.base import Scheme

_MASK32 = 0xFFFFFFFF


class CatMapScheme(Scheme):
    """A keyed whole-image chaotic permutation built from Arnold cat maps.

    Construction, for an image of H x W pixels and C channels:

    1. Work on the top-left square of side `s` = min(H, W) rounded down to even
       (the whole image for square images of even side; pixels outside the square
       of a non-square image stay where they are, so prefer square images).
    2. Cut the square into four quadrants of side s/2 and scramble each with its
       own keyed generalised cat map `(y, x) -> (y + a*x, b*y + (a*b + 1)*x) mod n`
       (determinant 1, so a bijection), iterated a keyed number of times (4..12).
    3. Interleave the quadrants: output row `y` and column `x` take from quadrant
       `(y % 2, x % 2)` at `(y // 2, x // 2)`, so neighbours come from different
       quadrants.
    4. Apply one more keyed cat map to the whole square.
    5. Rotate the channels of every pixel by a keyed per-pixel amount
       (a 32-bit integer hash of the pixel's position and the key, mod C).

    Every parameter (a, b and the iteration count of each of the five maps, the
    hash constants) is drawn from SHA-256 of the key's 256-bit secret. Any
    neighbourhood of the image is spread over the whole square, which is why a
    network cannot learn from it. The composition is one gather over the flat
    image; decryption gathers with the inverse permutation.

    Input shape: `(N, H, W, C)` or `(H, W, C)` with min(H, W) >= 2.
    Output shape: the same.

    Example:

    >>> scheme = CatMapScheme(CatMapKey.generate(channels=3))
    >>> x = np.random.randint(0, 256, (4, 32, 32, 3), np.uint8)
    >>> bool((scheme.decrypt(scheme.encrypt(x)) == x).all())
    True
    """

    name = "cat_map"
    key_class = CatMapKey

    def map_parameters(self) -> dict:
        """The five maps' (a, b, iterations) and the channel-rotation hash constants."""

        def draw(label: str) -> int:
            digest = hashlib.sha256(self.key.secret + b"/" + label.encode()).digest()
            return int.from_bytes(digest[:8], "big")

        maps = {}
        for name in ("q00", "q01", "q10", "q11", "whole"):
            maps[name] = (
                1 + draw(f"{name}/a") % _MASK32,
                1 + draw(f"{name}/b") % _MASK32,
                4 + draw(f"{name}/iterations") % 9,
            )
        # Odd multipliers below 2**31, so int64 products of 32-bit values never overflow.
        rotation = (draw("rotation/k0") & _MASK32, (draw("rotation/k1") & 0x7FFFFFFF) | 1)
        return {"maps": maps, "rotation": rotation}

    def check_spatial_shape(self, height: int, width: int) -> None:
        if min(height, width) < 2:
            raise ImageShapeError(
                f"The cat map needs images of at least 2x2 pixels; got {height}x{width}."
            )

    def padded_shape(self, height: int, width: int) -> tuple[int, int]:
        return height, width

    def plan(self, height, width, direction):
        params = self.map_parameters()
        side = tf.cast((tf.minimum(height, width) // 2) * 2, tf.int64)
        half = side // 2
        quadrant_sources = tf.stack(
            [_cat_map_source(half, *params["maps"][name]) for name in ("q00", "q01", "q10", "q11")]
        )
        # Steps 4, 3, 2 traced back from an output pixel of the square to its input pixel.
        y, x = _grid(side)
        y, x = _cat_map(y, x, side, *params["maps"]["whole"])
        y, x = (y % 2) * half + y // 2, (x % 2) * half + x // 2
        quadrant = (y // half) * 2 + x // half
        inner = tf.gather(
            tf.reshape(quadrant_sources, [-1]),
            tf.cast(quadrant * half * half + (y % half) * half + x % half, tf.int32),
        )
        square_y = (y // half) * half + inner // half
        square_x = (x // half) * half + inner % half

        # Embed the square's map in the full image; pixels outside it stay put.
        rows = tf.range(height, dtype=tf.int64)[:, None] + tf.zeros([width], tf.int64)[None, :]
        cols = tf.range(width, dtype=tf.int64)[None, :] + tf.zeros([height], tf.int64)[:, None]
        inside = tf.logical_and(rows < side, cols < side)
        at = tf.cast(tf.minimum(rows, side - 1) * side + tf.minimum(cols, side - 1), tf.int32)
        source_row = tf.where(inside, tf.gather(square_y, at), rows)
        source_col = tf.where(inside, tf.gather(square_x, at), cols)
        source_pixel = source_row * tf.cast(width, tf.int64) + source_col

        # Step 5: a keyed per-pixel channel rotation.
        channels = self.channels
        rotation = _position_hash(rows, cols, *params["rotation"]) % channels
        chans = tf.range(channels, dtype=tf.int64)[None, None, :]
        source = source_pixel[..., None] * channels + (chans + rotation[..., None]) % channels
        index = tf.cast(tf.reshape(source, [-1]), tf.int32)
        if direction == "decrypt":
            index = tf.math.invert_permutation(index)
        return BytePlan(index=index)


def _grid(n):
    n64 = tf.cast(n, tf.int64)
    flat = tf.range(n64 * n64, dtype=tf.int64)
    return flat // n64, flat % n64


def _cat_map(y, x, n, a, b, iterations: int):
    """Iterate the generalised cat map `iterations` times on coordinates mod n."""
    a = tf.constant(a, tf.int64) % n
    b = tf.constant(b, tf.int64) % n
    ab1 = (a * b + 1) % n
    for _ in range(iterations):
        y, x = (y + a * x) % n, (b * y + ab1 * x) % n
    return y, x


def _cat_map_source(n, a, b, iterations):
    """Flat source index of every position of an n x n grid under the cat map."""
    y, x = _grid(n)
    n64 = tf.cast(n, tf.int64)
    y, x = _cat_map(y, x, n64, a, b, iterations)
    return y * n64 + x


def _position_hash(rows, cols, k0: int, k1: int):
    """A 32-bit integer hash of pixel positions, the same on every device."""
    bits = tf.bitwise
    mask = tf.constant(_MASK32, tf.int64)

    def mix(h, shift, multiplier):
        h = bits.bitwise_xor(h, bits.right_shift(h, tf.constant(shift, tf.int64)))
        return h if multiplier is None else bits.bitwise_and(h * multiplier, mask)

    h = bits.bitwise_and(rows * 0x2545F491 + cols * 0x1B873593 + k0, mask)
    h = mix(h, 16, 0x045D9F3B)
    h = mix(h, 15, k1)
    return mix(h, 16, None)
