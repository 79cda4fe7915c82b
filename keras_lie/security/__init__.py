"""Security evaluation: visual metrics, attacks and key space, in a report a data holder can read."""

from keras_lie.security.chosen_plaintext import probe_images, recover_key_chosen_plaintext
from keras_lie.security.ciphertext_only import attack, estimate_nibble_model
from keras_lie.security.exposure import exposure_report
from keras_lie.security.key_leakage import kernel_leakage
from keras_lie.security.keyspace import brute_force_log10_years, key_space_bits
from keras_lie.security.known_plaintext import blocks_needed_per_image, pairs_needed, recover_key
from keras_lie.security.metrics import adjacent_correlation, best_global_ssim, histogram_entropy, npcr_uaci, psnr, ssim
from keras_lie.security.position_keyed import (
    DecryptionMap,
    attack_position_keyed,
    reconstruct_thumbnails,
    recover_map_chosen_plaintext,
    recover_map_known_plaintext,
    solve_etc_jigsaw,
)
from keras_lie.security.reconstruction import Reconstruction, reconstruct_from_ciphertexts
from keras_lie.security.report import evaluate_scheme, security_report

__all__ = [
    "DecryptionMap",
    "Reconstruction",
    "attack_position_keyed",
    "reconstruct_thumbnails",
    "recover_map_chosen_plaintext",
    "recover_map_known_plaintext",
    "solve_etc_jigsaw",
    "blocks_needed_per_image",
    "probe_images",
    "reconstruct_from_ciphertexts",
    "recover_key_chosen_plaintext",
    "adjacent_correlation",
    "attack",
    "best_global_ssim",
    "brute_force_log10_years",
    "estimate_nibble_model",
    "evaluate_scheme",
    "exposure_report",
    "histogram_entropy",
    "kernel_leakage",
    "key_space_bits",
    "npcr_uaci",
    "pairs_needed",
    "psnr",
    "recover_key",
    "security_report",
    "ssim",
]
