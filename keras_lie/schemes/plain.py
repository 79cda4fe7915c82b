"""The identity scheme, so that experiments treat plain images like the others."""

from __future__ import annotations

from keras_lie.keys import PlainKey
from keras_lie.schemes.base import Scheme


class PlainScheme(Scheme):
    """Identity: `encrypt(x) == decrypt(x) == x`, with the same input checks as every scheme.

    Example:

    >>> PlainScheme(PlainKey()).encrypt(np.zeros((2, 32, 32, 3), np.uint8)).shape
    (2, 32, 32, 3)
    """

    name = "plain"
    key_class = PlainKey

    def plan(self, height, width, direction):
        return None
