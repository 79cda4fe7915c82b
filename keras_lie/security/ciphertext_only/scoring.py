"""Running a ciphertext-only attack on the images an attacker holds, and scoring it against the plain images.

The attack sees the encrypted images only; the plain images only score what it
rebuilt. Every function here takes the plain images first, then the encrypted
ones, as every attack in `keras_lie.security` does (`attack` and
`attack_position_keyed`, which took the encrypted images first, are deprecated).

Reconstructions are measured with grey SSIM against the plain images, in the
best global symmetry and polarity for the whole set (one choice, not one per
image): a person looking at a mirrored negative recognises it at a glance. Every
figure is what our attack reached: a lower bound on what an attacker gets.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from keras_lie.security.ciphertext_only.brightness import reconstruct_block_means, reconstruct_thumbnails
from keras_lie.security.ciphertext_only.etc import solve_etc_jigsaw
from keras_lie.security.ciphertext_only.reconstruction import reconstruct_from_ciphertexts
from keras_lie.security.geometry import orient
from keras_lie.security.metrics import best_global_ssim, global_symmetries, gray, ssim


def ciphertext_only_attack(plain, encrypted, scheme: str, block_size: int | None, attack_images: int | None = None, *,
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
    plain, encrypted = np.asarray(plain)[:attack_images], np.asarray(encrypted)[:attack_images]
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


def ciphertext_only_attack_position_keyed(plain, encrypted, scheme: str, block_size: int) -> dict:
    """The ciphertext-only attack on ELE or EtC images, scored as `ciphertext_only_attack` scores.

    Thumbnails from all the images held (`reconstruct_thumbnails`), upsampled to
    full size, each image auto-contrasted (1st to 99th percentile to 0..255, as a
    viewer would); the global symmetry and polarity that the solver leaves open
    are resolved in the attacker's favour. With one image there are no
    statistics over images: EtC's single-image jigsaw is used instead (ELE gives
    nothing to place then, and the encrypted image itself is the guess).
    """
    plain, encrypted = np.asarray(plain), np.asarray(encrypted)
    if len(encrypted) >= 2:
        reconstruction, method = reconstruct_thumbnails(encrypted, scheme, block_size), "thumbnails over the images held"
    elif scheme == "etc":
        reconstruction, method = solve_etc_jigsaw(encrypted[0], block_size)[None], "jigsaw of one image"
    else:
        reconstruction, method = gray(encrypted), "none (one ELE image gives no statistics)"
    score, best = score_reconstruction(plain, reconstruction)
    target = gray(plain)[..., None]
    return {"scheme": scheme, "block_size": block_size, "attack_images": len(encrypted), "method": method,
            "ssim_reconstruction": score,
            "psnr_reconstruction_db": float(10 * np.log10(255.0**2 / max(np.mean((target[..., 0] - best) ** 2), 1e-9))),
            "ssim_flat_baseline": ssim(target, np.full_like(target, gray(encrypted).mean())),
            "ssim_encrypted_baseline": ssim(target, gray(encrypted)[..., None]),
            "ambiguities": ["global orientation (8 symmetries of the grid)", "global polarity"],
            "reconstruction": best}


def score_reconstruction(plain, reconstruction) -> tuple[float, np.ndarray]:
    """SSIM of a grey reconstruction (N, h, w), upsampled and auto-contrasted, in its best global symmetry.

    Returns the score and that reconstruction (N, H, W) in 0..255.
    """
    target = gray(np.asarray(plain))
    reconstruction = np.asarray(reconstruction, np.float64)
    factor = target.shape[1] // reconstruction.shape[1]
    best, picture = -1.0, None
    for candidate in _symmetries(reconstruction):
        if candidate.shape[1:] != (target.shape[1] // factor, target.shape[2] // factor):
            continue
        up = np.repeat(np.repeat(candidate, factor, axis=1), factor, axis=2)
        for polarity in (up, -up):
            stretched = _auto_contrast(polarity)
            value = ssim(target[..., None], stretched[..., None])
            if value > best:
                best, picture = value, stretched
    return best, picture


# -- deprecated: the encrypted images first ---------------------------------------------------


def attack(encrypted, plain, scheme: str, block_size: int | None, attack_images: int | None = None, *,
           seed: int = 0) -> dict:
    """Deprecated: use `ciphertext_only_attack(plain, encrypted, ...)`, which takes the plain images first.

    The same attack and result; kept for one release.
    """
    _warn("attack(encrypted, plain, ...)", "ciphertext_only_attack(plain, encrypted, ...)")
    return ciphertext_only_attack(plain, encrypted, scheme, block_size, attack_images, seed=seed)


def attack_position_keyed(encrypted, plain, scheme: str, block_size: int) -> dict:
    """Deprecated: use `ciphertext_only_attack_position_keyed(plain, encrypted, ...)`, which takes the plain images first.

    The same attack and result; kept for one release.
    """
    _warn("attack_position_keyed(encrypted, plain, ...)", "ciphertext_only_attack_position_keyed(plain, encrypted, ...)")
    return ciphertext_only_attack_position_keyed(plain, encrypted, scheme, block_size)


def _warn(old: str, new: str) -> None:
    warnings.warn(f"keras_lie.security.{old} is deprecated and will be removed in the next release; use "
                  f"keras_lie.security.{new} (plain images before encrypted ones, as everywhere else).",
                  DeprecationWarning, stacklevel=3)


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


def _symmetries(images: np.ndarray):
    """The 8 symmetries of the square of grey images (N, h, w): each quarter turn, then it mirrored."""
    for k in range(4):
        yield orient(images, k)
        yield orient(images, k + 4)


def _auto_contrast(images: np.ndarray) -> np.ndarray:
    """Each image's 1st to 99th percentile stretched to 0..255 (what a viewer does with a dim picture)."""
    low = np.percentile(images, 1, axis=(1, 2), keepdims=True)
    high = np.percentile(images, 99, axis=(1, 2), keepdims=True)
    return np.clip((images - low) / np.maximum(high - low, 1e-9) * 255.0, 0, 255)
