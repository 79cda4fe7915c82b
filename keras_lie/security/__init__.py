"""Security evaluation: visual metrics, attacks and key space, in a report a data holder can read.

The attacks are cut by threat model: `ciphertext_only` (encrypted images only),
`known_plaintext` (plain/encrypted pairs), `chosen_plaintext` (an encryption
oracle), `key_leakage` (a trained model); `metrics`, `keyspace`, `report`,
`exposure` and `rendering` measure and write up. Every function that takes
both plain and encrypted images takes the plain ones first.
"""

from keras_lie.security.chosen_plaintext import probe_images, recover_key_chosen_plaintext, recover_map_chosen_plaintext
from keras_lie.security.ciphertext_only import (
    attack,
    attack_position_keyed,
    ciphertext_only_attack,
    ciphertext_only_attack_position_keyed,
    estimate_nibble_model,
    reconstruct_from_ciphertexts,
    reconstruct_thumbnails,
    solve_block_jigsaw,
    solve_etc_jigsaw,
)
from keras_lie.security.exposure import exposure_report
from keras_lie.security.key_leakage import kernel_leakage
from keras_lie.security.keyspace import brute_force_log10_years, key_space_bits
from keras_lie.security.known_plaintext import (
    blocks_needed_per_image,
    known_plaintext_curve,
    pairs_needed,
    recover_key,
    recover_map_known_plaintext,
)
from keras_lie.security.metrics import adjacent_correlation, best_global_ssim, histogram_entropy, npcr_uaci, psnr, ssim
from keras_lie.security.report import evaluate_scheme, security_report
from keras_lie.security.result import DecryptionMap, Reconstruction

__all__ = [
    # ciphertext only
    "Reconstruction",
    "attack",  # deprecated: ciphertext_only_attack
    "attack_position_keyed",  # deprecated: ciphertext_only_attack_position_keyed
    "ciphertext_only_attack",
    "ciphertext_only_attack_position_keyed",
    "estimate_nibble_model",
    "reconstruct_from_ciphertexts",
    "reconstruct_thumbnails",
    "solve_block_jigsaw",
    "solve_etc_jigsaw",
    # known plaintext
    "DecryptionMap",
    "blocks_needed_per_image",
    "known_plaintext_curve",
    "pairs_needed",
    "recover_key",
    "recover_map_known_plaintext",
    # chosen plaintext
    "probe_images",
    "recover_key_chosen_plaintext",
    "recover_map_chosen_plaintext",
    # key leakage, key space
    "kernel_leakage",
    "brute_force_log10_years",
    "key_space_bits",
    # metrics
    "adjacent_correlation",
    "best_global_ssim",
    "histogram_entropy",
    "npcr_uaci",
    "psnr",
    "ssim",
    # reports
    "evaluate_scheme",
    "exposure_report",
    "security_report",
]
