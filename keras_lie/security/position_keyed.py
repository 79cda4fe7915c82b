"""Deprecated: the attacks on ELE and EtC now live with the other attacks of their threat model.

- known plaintext: `keras_lie.security.known_plaintext` (`recover_map_known_plaintext`, `known_plaintext_curve`);
- chosen plaintext: `keras_lie.security.chosen_plaintext` (`recover_map_chosen_plaintext`);
- ciphertext only: `keras_lie.security.ciphertext_only` (`reconstruct_thumbnails`, `solve_etc_jigsaw`,
  `score_reconstruction`, and `ciphertext_only_attack_position_keyed(plain, encrypted, ...)`, which replaces
  `attack_position_keyed(encrypted, plain, ...)`);
- `DecryptionMap`: `keras_lie.security.result`.

Every name is also in `keras_lie.security`. This module re-exports the old names for one release.
"""

import warnings

from keras_lie.security.chosen_plaintext import recover_map_chosen_plaintext
from keras_lie.security.ciphertext_only import (
    attack_position_keyed,
    reconstruct_thumbnails,
    score_reconstruction,
    solve_etc_jigsaw,
)
from keras_lie.security.geometry import UNITS
from keras_lie.security.known_plaintext import known_plaintext_curve, recover_map_known_plaintext
from keras_lie.security.result import DecryptionMap

warnings.warn("keras_lie.security.position_keyed is deprecated and will be removed in the next release; import from "
              "keras_lie.security (or its known_plaintext, chosen_plaintext and ciphertext_only modules) instead.",
              DeprecationWarning, stacklevel=2)

__all__ = [
    "UNITS",
    "DecryptionMap",
    "attack_position_keyed",
    "known_plaintext_curve",
    "reconstruct_thumbnails",
    "recover_map_chosen_plaintext",
    "recover_map_known_plaintext",
    "score_reconstruction",
    "solve_etc_jigsaw",
]
