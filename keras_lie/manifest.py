"""Deprecated: the dataset manifest moved to `keras_lie.io.dataset_manifest`.

Every name still works from here and warns (DeprecationWarning).
"""

from __future__ import annotations

import importlib
import warnings


def __getattr__(name: str):
    module = importlib.import_module("keras_lie.io.dataset_manifest")
    value = getattr(module, name)  # AttributeError for names that never existed
    warnings.warn(f"keras_lie.manifest.{name} has moved to keras_lie.io.dataset_manifest.{name}; import it from there.",
                  DeprecationWarning, stacklevel=2)
    return value
