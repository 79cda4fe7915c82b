"""keras-lie: learnable image encryption for TensorFlow/Keras (Tanaka, ICCE-TW 2018).

Names are imported lazily, so that `import keras_lie` (and `keras-lie --help`)
does not pay for importing TensorFlow until something that needs it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from keras_lie.version import __version__

_EXPORTS = {
    "keras_lie.errors": (
        "ImageFileError",
        "ImageShapeError",
        "ImageValueError",
        "KerasLieError",
        "KeyFileError",
        "KeyMismatchError",
    ),
    "keras_lie.keys": (
        "BlockShuffleKey",
        "CatMapKey",
        "Key",
        "LearnableKey",
        "PlainKey",
        "generate_key",
        "load_key",
    ),
    "keras_lie.schemes": (
        "BlockShuffleScheme",
        "CatMapScheme",
        "LearnableScheme",
        "PlainScheme",
        "Scheme",
        "decrypt",
        "encrypt",
        "get_scheme",
    ),
    "keras_lie.layers": ("Decrypt", "Encrypt"),
}
_SUBMODULES = (
    "data", "errors", "experiments", "files", "keys", "layers", "models", "schemes", "security", "training",
)
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["__version__", *sorted(_WHERE), *_SUBMODULES]


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"keras_lie.{name}")
    else:
        raise AttributeError(f"module 'keras_lie' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from keras_lie import (
        data,
        errors,
        experiments,
        files,
        keys,
        layers,
        models,
        schemes,
        security,
        training,
    )
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
    from keras_lie.layers import Decrypt, Encrypt
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
