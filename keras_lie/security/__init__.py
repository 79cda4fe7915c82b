"""Security evaluation: visual metrics, attacks and key space, in a report a data holder can read."""

from keras_lie.security.ciphertext_only import attack, estimate_nibble_model, jigsaw_check
from keras_lie.security.key_leakage import kernel_leakage
from keras_lie.security.keyspace import brute_force_log10_years, key_space_bits
from keras_lie.security.known_plaintext import pairs_needed, recover_key
from keras_lie.security.metrics import adjacent_correlation, histogram_entropy, npcr_uaci, psnr, ssim
from keras_lie.security.report import evaluate_scheme, security_report

__all__ = [
    "adjacent_correlation",
    "attack",
    "brute_force_log10_years",
    "estimate_nibble_model",
    "evaluate_scheme",
    "histogram_entropy",
    "jigsaw_check",
    "kernel_leakage",
    "key_space_bits",
    "npcr_uaci",
    "pairs_needed",
    "psnr",
    "recover_key",
    "security_report",
    "ssim",
]
