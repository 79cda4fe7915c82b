"""The image encryption schemes, each a `Scheme` bound to a key."""

from __future__ import annotations

import collections
import os
import threading

from keras_lie.keys import Key, as_key
from keras_lie.registry import SCHEME_RECORDS
from keras_lie.schemes.base import PADDING_MODES, Scheme
from keras_lie.schemes.block_shuffle import BlockShuffleScheme
from keras_lie.schemes.cat_map import CatMapScheme
from keras_lie.schemes.ele import ELEScheme
from keras_lie.schemes.etc import EtCScheme
from keras_lie.schemes.learnable import LearnableScheme
from keras_lie.schemes.plain import PlainScheme
from keras_lie.schemes.position_keyed import PositionKeyedScheme

SCHEMES: dict[str, type[Scheme]] = {name: record.scheme_class for name, record in SCHEME_RECORDS.items()}


_CACHE_SIZE = 16
_cache: collections.OrderedDict = collections.OrderedDict()
_cache_lock = threading.Lock()


def get_scheme(key: Key | str | os.PathLike, *, jit_compile: bool = True) -> Scheme:
    """The scheme a key belongs to, bound to that key (a `Key` or a key file path).

    Memoised per key material and options (the last 16), so repeated calls, and
    `encrypt`/`decrypt` below, reuse one scheme with its traced and compiled
    functions instead of compiling anew every call.
    """
    key = as_key(key)
    cache_key = (key.scheme, key.material_digest(), bool(jit_compile))
    with _cache_lock:
        scheme = _cache.get(cache_key)
        if scheme is None:
            scheme = _cache[cache_key] = SCHEMES[key.scheme](key, jit_compile=jit_compile)
            if len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        _cache.move_to_end(cache_key)
    return scheme


def encrypt(images, key: Key | str | os.PathLike, *, padding: str = "error"):
    """Encrypt images with `key` (NumPy in, NumPy out; tensors in, tensors out)."""
    return get_scheme(key).encrypt(images, padding=padding)


def decrypt(images, key: Key | str | os.PathLike, *, padding: str = "error"):
    """Decrypt images encrypted with `key`."""
    return get_scheme(key).decrypt(images, padding=padding)


__all__ = [
    "PADDING_MODES",
    "SCHEMES",
    "BlockShuffleScheme",
    "CatMapScheme",
    "ELEScheme",
    "EtCScheme",
    "LearnableScheme",
    "PositionKeyedScheme",
    "PlainScheme",
    "Scheme",
    "decrypt",
    "encrypt",
    "get_scheme",
]
