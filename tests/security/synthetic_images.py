"""Synthetic test images for the attacks (a helper module, not a test file)."""

import numpy as np


def structured_images(n, size=32, seed=0):
    """Smooth images with strong structure (random gradients and blobs), as natural images have."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(n):
        a, b, c = rng.uniform(-1, 1, 3)
        cy, cx, r = rng.uniform(0.2, 0.8, 3)
        base = 128 + 80 * (a * yy + b * xx) + 60 * c * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (0.05 + r / 10))
        channels = [base + rng.normal(0, 3, base.shape) + 20 * k for k in (-1, 0, 1)]
        images.append(np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8))
    return np.stack(images)
