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
import sys
import threading
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


_SERIALIZABLE_PACKAGES = ("keras_lie.layers", "keras_lie.models")


def _register_serializables() -> None:
    """Import the packages whose classes carry `keras.saving.register_keras_serializable`."""
    for package in _SERIALIZABLE_PACKAGES:
        importlib.import_module(package)


class _RegisterWhenKerasLoads(importlib.abc.MetaPathFinder):
    """A post-import hook: registers keras-lie's serializable classes once Keras has been imported.

    Plain PEP 451 machinery; nothing in Keras is touched. The finder hands out the usual spec of
    `keras` and of keras-lie's own modules with the loader wrapped for as long as the module
    executes; afterwards the module carries its own loader again. Registration runs when Keras has
    finished loading and no keras-lie module is half-way through its own import (Keras is often
    first imported by one, whose names do not exist yet): then, at the end of the outermost one.
    The hook removes itself once it has registered.
    """

    def __init__(self):
        self._lock = threading.RLock()
        self._executing = 0  # keras-lie modules being executed right now
        self._keras_loaded = False

    def find_spec(self, name, path, target=None):
        if name != "keras" and not name.startswith("keras_lie."):
            return None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _ReportingLoader(spec.loader, self)
        return spec

    def started(self, name: str) -> None:
        with self._lock:
            self._executing += name != "keras"

    def finished(self, name: str, loaded: bool) -> None:
        with self._lock:
            if name == "keras":
                self._keras_loaded = loaded
            else:
                self._executing -= 1
            if not (self._keras_loaded and self._executing == 0 and self in sys.meta_path):
                return
            sys.meta_path.remove(self)
        try:
            _register_serializables()
        except Exception as error:  # noqa: BLE001 - never break the user's `import keras`
            import warnings

            warnings.warn(f"keras-lie could not register its layers with Keras ({error}); "
                          "import keras_lie.layers and keras_lie.models before loading keras-lie models.",
                          stacklevel=2)


class _ReportingLoader(importlib.abc.Loader):
    """The module's own loader, telling `_RegisterWhenKerasLoads` when the module starts and ends executing."""

    def __init__(self, loader, hook: _RegisterWhenKerasLoads):
        self._loader = loader
        self._hook = hook

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self._loader  # what the module will keep
        self._hook.started(module.__name__)
        loaded = False
        try:
            self._loader.exec_module(module)
            loaded = True
        finally:
            self._hook.finished(module.__name__, loaded)

    def __getattr__(self, name):  # get_source, is_package, resource readers: the module's own loader's
        return getattr(self._loader, name)


if "keras" in sys.modules:
    _register_serializables()
elif not any(isinstance(finder, _RegisterWhenKerasLoads) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWhenKerasLoads())
