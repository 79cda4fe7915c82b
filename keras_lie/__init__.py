"""keras-lie: learnable image encryption for TensorFlow/Keras (Tanaka, ICCE-TW 2018).

The public names are listed once, in `__init__.pyi` (which type checkers read);
they are imported lazily, so that `import keras_lie` (and `keras-lie --help`)
does not pay for importing TensorFlow until something that needs it is used.
Keras-native loading still works after `import keras_lie` alone: keras-lie's
serializable layers and models are registered as soon as Keras is imported
(at once if it already is), so `keras.models.load_model` finds them.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import sys
from pathlib import Path

from keras_lie.version import __version__


def _public_names() -> dict[str, str | None]:
    """Each public name and the module it comes from (None: a submodule), as `__init__.pyi` lists them."""
    stub = ast.parse((Path(__file__).parent / "__init__.pyi").read_text(encoding="utf-8"))
    names: dict[str, str | None] = {}
    for node in stub.body:
        if isinstance(node, ast.ImportFrom) and node.module not in ("keras_lie", "keras_lie.version"):
            names.update({alias.asname or alias.name: node.module for alias in node.names})
        elif isinstance(node, ast.ImportFrom) and node.module == "keras_lie":
            names.update({alias.asname or alias.name: None for alias in node.names})
    return names


_WHERE = _public_names()
__all__ = ["__version__", *sorted(_WHERE)]


def __getattr__(name: str):
    if name in _WHERE and _WHERE[name] is not None:
        value = getattr(importlib.import_module(_WHERE[name]), name)
    elif name in _WHERE:
        value = importlib.import_module(f"keras_lie.{name}")
    else:
        raise AttributeError(f"module 'keras_lie' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)


def _register_serializables() -> None:
    """Import the modules whose classes carry `keras.saving.register_keras_serializable`."""
    importlib.import_module("keras_lie.layers")
    importlib.import_module("keras_lie.models")


class _RegisterWhenKerasLoads(importlib.abc.MetaPathFinder):
    """Runs `_register_serializables` right after the `keras` package has been imported."""

    def find_spec(self, name, path, target=None):
        if name != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            try:
                _register_serializables()
            except Exception as error:  # noqa: BLE001 - never break the user's `import keras`
                import warnings

                warnings.warn(f"keras-lie could not register its layers with Keras ({error}); "
                              "import keras_lie.layers before loading keras-lie models.", stacklevel=2)

        spec.loader.exec_module = exec_module
        return spec


if "keras" in sys.modules:
    _register_serializables()
elif not any(isinstance(finder, _RegisterWhenKerasLoads) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWhenKerasLoads())
