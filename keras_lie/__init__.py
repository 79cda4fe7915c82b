"""keras-lie: learnable image encryption for TensorFlow/Keras (Tanaka, ICCE-TW 2018)."""

from keras_lie.errors import (
    ImageFileError,
    ImageShapeError,
    ImageValueError,
    KerasLieError,
    KeyFileError,
    KeyMismatchError,
)
from keras_lie.keys import (
    BlockShuffleKey,
    CatMapKey,
    Key,
    LearnableKey,
    PlainKey,
    generate_key,
    load_key,
)
from keras_lie.schemes import (
    BlockShuffleScheme,
    CatMapScheme,
    LearnableScheme,
    PlainScheme,
    Scheme,
    decrypt,
    encrypt,
    get_scheme,
)
from keras_lie.version import __version__

__all__ = [
    "__version__",
    "BlockShuffleKey",
    "BlockShuffleScheme",
    "CatMapKey",
    "CatMapScheme",
    "ImageFileError",
    "ImageShapeError",
    "ImageValueError",
    "KerasLieError",
    "Key",
    "KeyFileError",
    "KeyMismatchError",
    "LearnableKey",
    "LearnableScheme",
    "PlainKey",
    "PlainScheme",
    "Scheme",
    "decrypt",
    "encrypt",
    "generate_key",
    "get_scheme",
    "load_key",
]
