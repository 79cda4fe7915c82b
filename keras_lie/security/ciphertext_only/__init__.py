"""Ciphertext-only attacks: decryption from encrypted images alone, for every scheme.

Threat model: the attacker holds encrypted images only (what a trainer gets, or
anyone who receives the data set), all encrypted under ONE key, knows the scheme
and block size, but has no key and no plain image. The key is the same for every
image, so statistics over the images expose it whatever happens within one
image:

- naive block shuffle and proposed scheme: every block of every image shares the
  key; the roles, parities and places of a block's symbols come from their
  statistics over all blocks (`reconstruction`, which also dispatches to every
  scheme's own attack: `reconstruct_from_ciphertexts`);
- ELE: each block position keeps its own nibble key over the images; its upper
  nibbles, parities and layout come from that position's statistics over the
  images, and a jigsaw places the blocks (`ele`);
- EtC: grey blocks survive up to a symmetry of the square and a negation; a
  jigsaw that sums edge agreement over all images places them (`etc`, `jigsaw`,
  `jigsaw_costs`); one image alone is reassembled from its edges (`etc`);
- combined cat map: the per-pixel channel rotation keeps every pixel's grey
  level, and the maps are linear, so a step in the plain image is one constant
  offset on the ciphertext torus per quadrant (`cat_map`);
- brightness only (`brightness`): a 1/M-resolution picture of every image, from
  the proposed scheme's nibble statistics or from ELE's and EtC's block
  positions' brightness series (thumbnails).

`scoring` runs an attack on the images held and scores it against the plain
images (`ciphertext_only_attack`, `ciphertext_only_attack_position_keyed`; the
plain images only score, and come first, as in every attack here).
"""

from keras_lie.security.ciphertext_only.brightness import (
    NibbleModel,
    estimate_nibble_model,
    reconstruct_block_means,
    reconstruct_learnable,
    reconstruct_thumbnails,
)
from keras_lie.security.ciphertext_only.cat_map import reconstruct_cat_map
from keras_lie.security.ciphertext_only.ele import reconstruct_ele
from keras_lie.security.ciphertext_only.etc import reconstruct_etc, solve_etc_jigsaw
from keras_lie.security.ciphertext_only.jigsaw import JigsawSolution, solve_block_jigsaw
from keras_lie.security.ciphertext_only.reconstruction import RECONSTRUCTABLE_SCHEMES, reconstruct_from_ciphertexts
from keras_lie.security.ciphertext_only.scoring import (
    attack,
    attack_position_keyed,
    ciphertext_only_attack,
    ciphertext_only_attack_position_keyed,
    score_reconstruction,
)

__all__ = [
    "RECONSTRUCTABLE_SCHEMES",
    "JigsawSolution",
    "NibbleModel",
    "attack",
    "attack_position_keyed",
    "ciphertext_only_attack",
    "ciphertext_only_attack_position_keyed",
    "estimate_nibble_model",
    "reconstruct_block_means",
    "reconstruct_cat_map",
    "reconstruct_ele",
    "reconstruct_etc",
    "reconstruct_from_ciphertexts",
    "reconstruct_learnable",
    "reconstruct_thumbnails",
    "score_reconstruction",
    "solve_block_jigsaw",
    "solve_etc_jigsaw",
]
