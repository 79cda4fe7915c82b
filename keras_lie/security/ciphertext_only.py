"""Ciphertext-only attacks: decryption from encrypted images alone, for every scheme.

`attack` runs the strongest reconstruction the package has for a scheme
(`reconstruction.reconstruct_from_ciphertexts`, which dispatches to each
scheme's own attack) and scores it. The statistics below are the first steps of
the attack on the proposed scheme, kept for the leakage measurements.

Threat model: the attacker holds encrypted images only (what a trainer gets, or
anyone who receives the data set), all encrypted under ONE key, knows the scheme
and block size, but has no key and no plain image. The key is the same for every
image, so statistics over the images expose it whatever happens within one
image:

- naive block shuffle and proposed scheme: every block of every image shares the
  key; the roles, parities and places of a block's symbols come from their
  statistics over all blocks (`reconstruction`);
- ELE: each block position keeps its own nibble key over the images; its upper
  nibbles, parities and layout come from that position's statistics over the
  images, and a jigsaw places the blocks (`ciphertext_only_ele`);
- EtC: grey blocks survive up to a symmetry of the square and a negation; a
  jigsaw that sums edge agreement over all images places them
  (`ciphertext_only_etc`, `jigsaw`);
- combined cat map: the per-pixel channel rotation keeps every pixel's grey
  level, and the maps are linear, so a step in the plain image is one constant
  offset on the ciphertext torus per quadrant (`ciphertext_only_cat_map`).

Reconstructions are measured with grey SSIM against the plain images, in the
best global symmetry and polarity for the whole set (one choice, not one per
image): a person looking at a mirrored negative recognises it at a glance. Every
figure is what our attack reached: a lower bound on what an attacker gets.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from keras_lie.blocks import block_means, block_vectors, estimate_upper_nibbles, nibbles
from keras_lie.security.metrics import best_global_ssim, global_symmetries, gray, ssim
from keras_lie.security.reconstruction import reconstruct_from_ciphertexts


@dataclasses.dataclass
class NibbleModel:
    """What the attack on the proposed scheme estimates from encrypted images."""

    upper_positions: np.ndarray  # encrypted nibble positions judged to come from upper nibbles
    parity: np.ndarray  # +1 / -1 reversal parity of each of them (up to one global sign)


def estimate_nibble_model(encrypted, block_size: int) -> NibbleModel:
    """Estimate upper-nibble positions and reversal parities from encrypted images only."""
    upper, parity = estimate_upper_nibbles(encrypted, block_size, use_neighbours=False)
    return NibbleModel(upper, parity)


def reconstruct_learnable(encrypted, model: NibbleModel, block_size: int) -> np.ndarray:
    """Block-brightness reconstruction (N, H, W) in 0..255 from a `NibbleModel`."""
    encrypted = np.asarray(encrypted)
    n, h, w, _ = encrypted.shape
    e = nibbles(block_vectors(encrypted, block_size)).astype(np.float64)[:, model.upper_positions]
    brightness = np.where(model.parity > 0, e, 15 - e).mean(axis=1) * 17
    return _upsample(brightness.reshape(n, h // block_size, w // block_size), block_size)


def reconstruct_block_means(encrypted, block_size: int) -> np.ndarray:
    """Block-mean reconstruction (N, H, W): exact block brightness for the naive shuffle."""
    return _upsample(block_means(encrypted, block_size), block_size)


def attack(encrypted, plain, scheme: str, block_size: int | None, attack_images: int | None = None, *,
           seed: int = 0) -> dict:
    """Run the strongest ciphertext-only attack for `scheme` on the images the attacker holds, and score it.

    The attacker holds the first `attack_images` encrypted images (default: all,
    all under one key) and rebuilds them with `reconstruct_from_ciphertexts`,
    which attacks every scheme; `plain` only scores the result. The score is the
    grey SSIM in the best global symmetry and polarity for the whole set
    (`metrics.best_global_ssim`: a person recognises a mirrored negative at a
    glance), with PSNR in that orientation, and three references: a flat grey
    guess, the encrypted image itself, and the true block means (a
    1/M-resolution picture, the ceiling of a brightness-only attack; M = 4 for
    the whole-image schemes). Returns those and the reconstruction (N, H, W) in
    0..255, as scored.
    """
    encrypted, plain = np.asarray(encrypted)[:attack_images], np.asarray(plain)[:attack_images]
    start = time.perf_counter()
    recovered = reconstruct_from_ciphertexts(encrypted, scheme, block_size, seed=seed)
    seconds = time.perf_counter() - start
    score, orientation = best_global_ssim(plain, recovered.images.mean(axis=-1))
    reconstruction = _oriented(recovered.images.mean(axis=-1), orientation)
    target = gray(plain)[..., None]
    means_block = block_size or 4
    true_block_means = reconstruct_block_means(plain, means_block) if _fits(plain, means_block) else gray(plain)
    return {
        "scheme": scheme,
        "block_size": block_size,
        "attack_images": len(encrypted),
        "ssim_reconstruction": score,
        "psnr_reconstruction_db": _pooled_psnr(target, reconstruction[..., None]),
        "exact": bool(np.array_equal(np.rint(reconstruction), np.rint(target[..., 0]))),
        "ssim_flat_baseline": ssim(target, np.full_like(target, gray(encrypted).mean())),
        "ssim_encrypted_baseline": ssim(target, gray(encrypted)[..., None]),
        "ssim_true_block_means": ssim(target, true_block_means[..., None]),
        "levels": recovered.levels,
        "colour": recovered.colour,
        "ambiguities": list(recovered.ambiguities),
        "seconds": seconds,
        "reconstruction": reconstruction,
    }


def _oriented(grey: np.ndarray, orientation: str) -> np.ndarray:
    """The reconstruction in the symmetry and polarity `best_global_ssim` chose."""
    name = orientation.replace(", negative", "")
    for candidate_name, candidate in global_symmetries(grey):
        if candidate_name == name:
            return 255.0 - candidate if orientation.endswith(", negative") else candidate
    return grey


def _fits(images: np.ndarray, block_size: int) -> bool:
    return images.shape[1] % block_size == 0 and images.shape[2] % block_size == 0


def _pooled_psnr(plain: np.ndarray, reconstruction: np.ndarray) -> float:
    """PSNR of the mean squared error over all images (inf only when every image is exact)."""
    mse = float(np.mean((np.asarray(plain, np.float64) - reconstruction) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _upsample(values: np.ndarray, block_size: int) -> np.ndarray:
    return np.repeat(np.repeat(values, block_size, axis=1), block_size, axis=2)
