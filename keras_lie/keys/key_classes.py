"""The key classes by scheme name.

A key class records itself here when it is defined: `Key.__init_subclass__`
registers every class that sets `scheme` (and the other names in its `aliases`),
so adding a scheme never means editing a table of classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keras_lie.errors import KeyMismatchError

if TYPE_CHECKING:
    from keras_lie.keys.base import Key

# Filled by `register_key_class`, in the order the key classes are defined.
_KEY_CLASSES: dict[str, type[Key]] = {}
_SCHEME_ALIASES: dict[str, str] = {}


def _normalised(name: str) -> str:
    return str(name).strip().lower().replace("-", "_")


def register_key_class(cls: type[Key]) -> None:
    """Record `cls` under its `scheme` and its `aliases` (called by `Key.__init_subclass__`)."""
    for name in (cls.scheme, *cls.aliases):
        if name != _normalised(name):
            raise TypeError(f"{cls.__name__}: the scheme name {name!r} must be lower case with underscores.")
        taken = _KEY_CLASSES.get(name) or _KEY_CLASSES.get(_SCHEME_ALIASES.get(name, ""))
        if taken is not None:
            raise TypeError(f"{cls.__name__}: the scheme name {name!r} is already {taken.__name__}'s.")
    _KEY_CLASSES[cls.scheme] = cls
    _SCHEME_ALIASES.update(dict.fromkeys(cls.aliases, cls.scheme))


def canonical_scheme_name(name: str) -> str:
    """Return the canonical scheme name for `name` ('block-shuffle' -> 'block_shuffle')."""
    canonical = _normalised(name)
    canonical = _SCHEME_ALIASES.get(canonical, canonical)
    if canonical not in _KEY_CLASSES:
        raise KeyMismatchError(
            f"Unknown scheme {name!r}; choose one of {', '.join(sorted(_KEY_CLASSES))}."
        )
    return canonical


def key_class(scheme: str) -> type[Key]:
    """The key class of a scheme name."""
    return _KEY_CLASSES[canonical_scheme_name(scheme)]


def registered_key_class(scheme: str) -> type[Key] | None:
    """The key class registered under exactly `scheme` (a key file's own name for it), or None."""
    return _KEY_CLASSES.get(scheme)


def schemes_of_kind(kind: type[Key]) -> tuple[str, ...]:
    """The names of the registered schemes whose key class is a `kind`, in the order they were defined."""
    return tuple(name for name, cls in _KEY_CLASSES.items() if issubclass(cls, kind))


def generate_key(scheme: str, block_size: int | None = None, channels: int = 3,
                 seed: int | None = None, *, image_size: tuple[int, int] | None = None) -> Key:
    """A new key for `scheme` (block_size defaults to its kind's `default_block_size`: 4 where it has blocks).

    `image_size` (H, W) is required by the position-keyed schemes (`ele`, `etc`),
    whose keys fit one image size, and ignored by the others.
    """
    cls = key_class(scheme)
    if block_size is None:
        block_size = cls.default_block_size
    if cls.fits_one_image_size:
        return cls.generate(block_size=block_size, channels=channels, seed=seed, image_size=image_size)
    return cls.generate(block_size=block_size, channels=channels, seed=seed)
