"""Deprecated: the block jigsaw solver is `keras_lie.security.ciphertext_only.jigsaw` now (and
`solve_block_jigsaw` is in `keras_lie.security`); `orient` is `keras_lie.security.geometry.orient`.

This module re-exports the old names for one release.
"""

import warnings

from keras_lie.security.ciphertext_only.jigsaw import JigsawSolution, solve_block_jigsaw
from keras_lie.security.geometry import orient

warnings.warn("keras_lie.security.jigsaw is deprecated and will be removed in the next release; import from "
              "keras_lie.security.ciphertext_only.jigsaw (or keras_lie.security) instead.",
              DeprecationWarning, stacklevel=2)

__all__ = ["JigsawSolution", "orient", "solve_block_jigsaw"]
