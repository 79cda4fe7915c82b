"""Visual security metrics between plain and encrypted images.

All take uint8 (or 0..255 valued) batches `(N, H, W, C)` and are vectorised.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def psnr(plain, encrypted) -> float:
    """Mean PSNR in dB between plain and encrypted images (inf where identical)."""
    a, b = _float(plain), _float(encrypted)
    mse = np.mean((a - b) ** 2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        values = 10 * np.log10(255.0**2 / mse)
    return float(np.mean(values))


def ssim(plain, encrypted) -> float:
    """Mean SSIM (Gaussian window 11, as `tf.image.ssim`) between plain and encrypted images."""
    a, b = _float(plain), _float(encrypted)
    size = min(a.shape[1], a.shape[2], 11)
    return float(tf.reduce_mean(tf.image.ssim(tf.constant(a), tf.constant(b), 255.0, filter_size=size)))


def adjacent_correlation(images) -> dict[str, float]:
    """Pearson correlation of horizontally, vertically and diagonally adjacent pixel values.

    Computed within each image and channel (pooling images would count the
    differences in overall brightness between images as correlation), then
    averaged. Natural images give values near 1; a good scrambling near 0.
    """
    x = _float(images)
    pairs = {
        "horizontal": (x[:, :, :-1], x[:, :, 1:]),
        "vertical": (x[:, :-1, :], x[:, 1:, :]),
        "diagonal": (x[:, :-1, :-1], x[:, 1:, 1:]),
    }
    return {name: _mean_channel_correlation(a, b) for name, (a, b) in pairs.items()}


def histogram_entropy(images) -> list[float]:
    """Shannon entropy (bits, max 8) of the value histogram of each channel."""
    x = np.asarray(images).astype(np.int64)
    entropies = []
    for c in range(x.shape[-1]):
        counts = np.bincount(x[..., c].ravel(), minlength=256).astype(np.float64)
        p = counts[counts > 0] / counts.sum()
        entropies.append(float(-(p * np.log2(p)).sum()))
    return entropies


def npcr_uaci(first, second) -> tuple[float, float]:
    """NPCR and UACI (both in %) between two encryptions of the same images.

    NPCR: the share of values that differ; UACI: the mean absolute difference
    relative to 255. For two independent uniform images: 99.61% and 33.46%.
    """
    a, b = _float(first), _float(second)
    npcr = float(np.mean(a != b) * 100)
    uaci = float(np.mean(np.abs(a - b) / 255.0) * 100)
    return npcr, uaci


_ORIENTATION_SAMPLE = 64  # images on which best_global_ssim chooses the symmetry and polarity


def global_symmetries(images: np.ndarray):
    """The 8 symmetries of the square applied to a whole set (N, H, W[, C]): (name, images) pairs.

    Transposing symmetries are skipped for non-square images (they change the shape).
    """
    images = np.asarray(images)
    square = images.shape[1] == images.shape[2]
    for turns in range(4):
        if turns % 2 and not square:
            continue
        rotated = np.rot90(images, turns, axes=(1, 2))
        yield f"rotate {90 * turns}", rotated
        yield f"rotate {90 * turns}, mirror", rotated[:, :, ::-1]


def best_global_ssim(plain, grey_reconstruction) -> tuple[float, str]:
    """Grey SSIM of a reconstruction in its best global symmetry and polarity, and which one won.

    `plain`: the plain images (N, H, W, C); `grey_reconstruction`: (N, H, W) in
    0..255. One symmetry of the square and one polarity (x or 255 - x) are chosen
    for the whole set, not per image: what an attacker who looks at a few of the
    pictures fixes once. Scores a reconstruction the way the security report does.
    """
    target = gray(plain)[..., None]
    candidates = [(name + polarity, values)
                  for name, candidate in global_symmetries(np.asarray(grey_reconstruction, np.float64))
                  for polarity, values in (("", candidate), (", negative", 255.0 - candidate))]
    # The 16 candidates are ranked on the first images, and the best one scored on all of them:
    # one global choice, as an attacker makes it from a few pictures (16 SSIMs over thousands of images are slow).
    sample = slice(0, _ORIENTATION_SAMPLE)
    which, values = max(candidates, key=lambda item: ssim(target[sample], item[1][sample][..., None]))
    return ssim(target, values[..., None]), which


def gray(images) -> np.ndarray:
    """Mean over channels, float (N, H, W)."""
    return np.asarray(images, dtype=np.float64).mean(axis=-1)


def _float(images) -> np.ndarray:
    x = np.asarray(images, dtype=np.float64)
    return x[None] if x.ndim == 3 else x


def _mean_channel_correlation(a: np.ndarray, b: np.ndarray) -> float:
    n, c = a.shape[0], a.shape[-1]
    u = a.transpose(0, 3, 1, 2).reshape(n * c, -1)
    v = b.transpose(0, 3, 1, 2).reshape(n * c, -1)
    u = u - u.mean(axis=1, keepdims=True)
    v = v - v.mean(axis=1, keepdims=True)
    denominator = np.sqrt((u**2).sum(axis=1) * (v**2).sum(axis=1))
    flat = denominator == 0  # a constant image-channel: correlation undefined, skip it
    if flat.all():
        return 1.0
    values = (u * v).sum(axis=1)[~flat] / denominator[~flat]
    return float(values.mean())
