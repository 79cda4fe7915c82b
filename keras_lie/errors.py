"""Exceptions raised by keras-lie.

Every error a user can cause derives from `KerasLieError`, so a caller (or the
command line) can catch the whole family at once, and every message says what
is wrong and how to fix it.
"""


class KerasLieError(Exception):
    """Base class of every error keras-lie raises for bad input."""


class KeyFileError(KerasLieError, ValueError):
    """A key file is missing, unreadable, corrupted, edited or of an unknown format."""


class KeyMismatchError(KerasLieError, ValueError):
    """A key does not fit what it is used with (another scheme, sizes or fingerprint)."""


class ImageShapeError(KerasLieError, ValueError):
    """Images have the wrong rank, channel count, or sides the scheme cannot take."""


class ImageValueError(KerasLieError, ValueError):
    """Image values are not integers in [0, 255], or their dtype is unsupported."""


class ImageFileError(KerasLieError, ValueError):
    """An image file cannot be read, has the wrong mode or size, or cannot be written as asked."""


class DatasetUnavailableError(KerasLieError):
    """A dataset cannot be found, read or downloaded."""


class TrainingDivergedError(KerasLieError):
    """The loss became NaN or infinite."""
