"""Deprecated: image files and folders moved to `keras_lie.data.image_files` (the public names also to
`keras_lie.data`). Every name still works from here and warns (DeprecationWarning)."""

from __future__ import annotations

import importlib
import warnings


def __getattr__(name: str):
    # A deprecated alias reaches across its floor, on purpose (tests/test_layering.py allows exactly this).
    module = importlib.import_module("keras_lie.data.image_files")
    value = getattr(module, name)  # AttributeError for names that never existed
    warnings.warn(f"keras_lie.files.{name} has moved to keras_lie.data.image_files.{name}"
                  f"{' (also keras_lie.data.' + name + ')' if not name.startswith('_') else ''}; import it from there.",
                  DeprecationWarning, stacklevel=2)
    return value
