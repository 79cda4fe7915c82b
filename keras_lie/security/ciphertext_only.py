"""Ciphertext-only attacks: decryption from encrypted images alone.

`attack` runs the strongest reconstruction the package has for a scheme
(`keras_lie.security.reconstruction` for the block-wise ones: a full-resolution
16-level image for the proposed scheme) and scores it. The statistics below are
the first steps of that attack, kept for the leakage measurements.

Threat model: the attacker holds encrypted images only (what a trainer gets),
knows the scheme and block size, but has no key and no plain image. Every block
of every image shares one key, and neighbouring pixels of natural images
correlate, so statistics over many encrypted blocks expose structure:

- naive block shuffle: the bytes of a block are only moved, so each block keeps
  its mean (a 1/M-resolution image at once), and placing the bytes back by the
  smoothness of neighbours gives the exact image;
- proposed scheme: an encrypted nibble that comes from an upper nibble carries
  the image's structure and correlates with the others that do (negatively where
  exactly one of the two is reversed); one from a lower nibble is close to noise.
  Ranking positions by their mean absolute correlation finds the upper-nibble
  positions, the principal component of their correlations gives their reversal
  parities, and placing them within the block (see `reconstruction`) gives a
  16-level image at full resolution, up to one global inversion;
- combined cat map: a whole-image permutation; block statistics and adjacency
  carry nothing (`metrics.adjacent_correlation` measures that it resists).

Reconstructions are measured with SSIM against the plain images' grey levels.
The global inversion of the proposed scheme's reconstruction is resolved in
favour of the attacker (the better of the two is reported): a person looking
at a negative recognises it at a glance.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_lie.blocks import block_means, block_vectors, estimate_upper_nibbles, nibbles
from keras_lie.keys import POSITION_KEYED_SCHEMES
from keras_lie.security.metrics import gray, ssim
from keras_lie.security.position_keyed import attack_position_keyed
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


def attack(encrypted, plain, scheme: str, block_size: int, attack_images: int | None = None, *,
           seed: int = 0) -> dict:
    """Run the strongest ciphertext-only attack for `scheme` on the images the attacker holds.

    The attacker holds the first `attack_images` encrypted images (default: all)
    and reconstructs them; `plain` only scores the result. Block-wise schemes
    ("learnable", "block_shuffle") are attacked with `reconstruct_from_ciphertexts`
    (full resolution), the position-keyed ones ("ele", "etc") with
    `position_keyed.attack_position_keyed`; other schemes with their block means (the whole-image cat
    map has no block structure to exploit). Returns SSIM and PSNR of the grey
    reconstruction in the better polarity (a person recognises a negative at a
    glance), two key-free baselines (a flat grey guess and the encrypted image
    itself), and the reconstruction (N, H, W) in 0..255.
    """
    encrypted, plain = np.asarray(encrypted)[:attack_images], np.asarray(plain)[:attack_images]
    if scheme in POSITION_KEYED_SCHEMES:
        return attack_position_keyed(encrypted, plain, scheme, block_size)
    target = gray(plain)[..., None]
    if scheme in ("learnable", "block_shuffle"):
        recovered = reconstruct_from_ciphertexts(encrypted, scheme, block_size, seed=seed)
        candidates = [recovered.grey, recovered.grey_inverted]
        ambiguities = list(recovered.ambiguities)
    elif scheme == "plain":
        candidates, ambiguities = [gray(encrypted)], []
    else:  # cat_map: no block structure; block means are the baseline
        candidates = [reconstruct_block_means(encrypted, block_size)]
        ambiguities = []
    scores = [ssim(target, c[..., None]) for c in candidates]
    best = int(np.argmax(scores))
    reconstruction = candidates[best]
    flat = np.full_like(target, gray(encrypted).mean())
    return {
        "scheme": scheme,
        "block_size": block_size,
        "attack_images": len(encrypted),
        "ssim_reconstruction": scores[best],
        "psnr_reconstruction_db": _pooled_psnr(target, reconstruction[..., None]),
        "ssim_flat_baseline": ssim(target, flat),
        "ssim_encrypted_baseline": ssim(target, gray(encrypted)[..., None]),
        "ambiguities": ambiguities,
        "reconstruction": reconstruction,
    }


def _pooled_psnr(plain: np.ndarray, reconstruction: np.ndarray) -> float:
    """PSNR of the mean squared error over all images (inf only when every image is exact)."""
    mse = float(np.mean((np.asarray(plain, np.float64) - reconstruction) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _upsample(values: np.ndarray, block_size: int) -> np.ndarray:
    return np.repeat(np.repeat(values, block_size, axis=1), block_size, axis=2)
