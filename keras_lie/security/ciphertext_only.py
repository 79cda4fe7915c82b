"""Ciphertext-only attacks: approximate decryption from encrypted images alone.

Threat model: the attacker holds encrypted images only (what a trainer gets),
knows the scheme and block size, but has no key and no plain image. Every block
of every image shares one key, and neighbouring pixels of natural images
correlate, so statistics over many encrypted blocks expose structure:

- naive block shuffle: the bytes of a block are only moved, so each block keeps
  its mean: the block means give a 1/M-resolution image at once;
- proposed scheme: an encrypted nibble that comes from an upper nibble carries
  the image's structure and correlates with the others that do (negatively where
  exactly one of the two is reversed); one from a lower nibble is close to noise.
  Ranking positions by their mean absolute correlation finds the upper-nibble
  positions, the principal component of their correlations gives their reversal
  parities, and averaging them (parity-corrected) gives each block's brightness,
  up to one global inversion;
- combined cat map: a whole-image permutation; block statistics and adjacency
  carry nothing (the jigsaw-style check below measures that it resists).

Reconstructions are measured with SSIM against the plain images' grey levels.
The global inversion of the proposed scheme's reconstruction is resolved in
favour of the attacker (the better of the two is reported): a person looking
at a negative recognises it at a glance.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_lie.security.blocks import block_means, gray, nibble_vectors
from keras_lie.security.metrics import adjacent_correlation, ssim


@dataclasses.dataclass
class NibbleModel:
    """What the attack on the proposed scheme estimates from encrypted images."""

    upper_positions: np.ndarray  # encrypted nibble positions judged to come from upper nibbles
    parity: np.ndarray  # +1 / -1 reversal parity of each of them (up to one global sign)


def estimate_nibble_model(encrypted, block_size: int) -> NibbleModel:
    """Estimate upper-nibble positions and reversal parities from encrypted images only."""
    e = nibble_vectors(encrypted, block_size).astype(np.float64)
    d = e.shape[1] // 2
    e = e - e.mean(axis=0)
    std = e.std(axis=0)
    std[std == 0] = 1
    correlation = (e / std).T @ (e / std) / len(e)
    np.fill_diagonal(correlation, 0)
    score = np.abs(correlation).mean(axis=1)
    upper = np.sort(np.argsort(score)[-d:])
    sub = correlation[np.ix_(upper, upper)]
    _, vectors = np.linalg.eigh(sub)
    parity = np.where(vectors[:, -1] >= 0, 1.0, -1.0)
    return NibbleModel(upper, parity)


def reconstruct_learnable(encrypted, model: NibbleModel, block_size: int) -> np.ndarray:
    """Block-brightness reconstruction (N, H, W) in 0..255 from a `NibbleModel`."""
    encrypted = np.asarray(encrypted)
    n, h, w, _ = encrypted.shape
    e = nibble_vectors(encrypted, block_size).astype(np.float64)[:, model.upper_positions]
    brightness = np.where(model.parity > 0, e, 15 - e).mean(axis=1) * 17
    return _upsample(brightness.reshape(n, h // block_size, w // block_size), block_size)


def reconstruct_block_means(encrypted, block_size: int) -> np.ndarray:
    """Block-mean reconstruction (N, H, W): exact block brightness for the naive shuffle."""
    return _upsample(block_means(encrypted, block_size), block_size)


def attack(encrypted, plain, scheme: str, block_size: int, attack_images: int | None = None) -> dict:
    """Run the ciphertext-only attack for `scheme` and score it against `plain`.

    The statistics are estimated from the first `attack_images` encrypted images
    (default: all), and the reconstruction is scored on all images. Returns SSIM
    of the reconstruction, and of two key-free baselines: a flat grey image at the
    encrypted images' mean, and the encrypted image itself (greyed).
    """
    encrypted, plain = np.asarray(encrypted), np.asarray(plain)
    target = gray(plain)[..., None]
    if scheme == "learnable":
        model = estimate_nibble_model(encrypted[:attack_images], block_size)
        recon = reconstruct_learnable(encrypted, model, block_size)
        candidates = [recon, 255 - recon]
        scores = [ssim(target, c[..., None]) for c in candidates]
        best = int(np.argmax(scores))
        reconstruction, score = candidates[best], scores[best]
    else:  # block_shuffle, cat_map, plain: block means need no estimation
        reconstruction = reconstruct_block_means(encrypted, block_size)
        score = ssim(target, reconstruction[..., None])
    flat = np.full_like(target, gray(encrypted).mean())
    return {
        "scheme": scheme,
        "block_size": block_size,
        "attack_images": attack_images or len(encrypted),
        "ssim_reconstruction": score,
        "ssim_flat_baseline": ssim(target, flat),
        "ssim_encrypted_baseline": ssim(target, gray(encrypted)[..., None]),
        "reconstruction": reconstruction,
    }


def jigsaw_check(encrypted) -> dict:
    """Adjacent-pixel correlation left in encrypted images: what a jigsaw solver would need.

    Near 1 for natural images; near 0 means neighbouring pixels carry no shared
    structure, so piecing the image back together has nothing to go on.
    """
    return adjacent_correlation(encrypted)


def _upsample(values: np.ndarray, block_size: int) -> np.ndarray:
    return np.repeat(np.repeat(values, block_size, axis=1), block_size, axis=2)
