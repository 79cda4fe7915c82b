"""The key of the identity 'encryption' (the `plain` scheme)."""

from __future__ import annotations

from keras_lie.keys.base import Key


class PlainKey(Key):
    """The identity 'encryption': no secret, so that experiments treat all schemes alike."""

    scheme = "plain"
    aliases = ("identity",)

    def __init__(self, block_size: int = 1, channels: int = 3, *, created: str | None = None):
        super().__init__(block_size, channels, created=created)

    @classmethod
    def generate(cls, block_size: int | None = None, channels: int = 3, seed: int | None = None) -> PlainKey:
        return cls(cls.default_block_size if block_size is None else block_size, channels)
