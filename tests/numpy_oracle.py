"""Direct NumPy transcriptions of the block-wise schemes.

An independent oracle for the tests (the library itself has one implementation,
in TensorFlow ops) and the baseline of `benchmarks/encryption_throughput.py`.
"""

import numpy as np

from keras_lie.keys import BlockShuffleKey, LearnableKey


def numpy_learnable_encrypt(images, key: LearnableKey, decrypt=False):
    """A direct NumPy transcription of the authors' algorithm, as an independent oracle."""
    m, c = key.block_size, key.channels
    n_images, height, width, _ = images.shape
    d = m * m * c
    k = np.argsort(key.permutation) if decrypt else key.permutation
    r = key.reversal_mask
    b = images.reshape(n_images, height // m, m, width // m, m, c).transpose(0, 1, 3, 2, 4, 5)
    b = b.reshape(n_images, height // m, width // m, d).astype(np.int64)
    n = np.concatenate([b & 15, b >> 4], axis=-1)
    n = np.where(r, 15 - n, n)
    out = n[..., k]
    out = np.where(r, 15 - out, out)
    out = (out[..., d:] << 4) | out[..., :d]
    out = out.reshape(n_images, height // m, width // m, m, m, c).transpose(0, 1, 3, 2, 4, 5)
    return out.reshape(images.shape).astype(np.uint8)


def numpy_block_shuffle(images, key: BlockShuffleKey):
    m, c = key.block_size, key.channels
    n_images, height, width, _ = images.shape
    b = images.reshape(n_images, height // m, m, width // m, m, c).transpose(0, 1, 3, 2, 4, 5)
    b = b.reshape(n_images, height // m, width // m, m * m * c)[..., key.permutation]
    b = b.reshape(n_images, height // m, width // m, m, m, c).transpose(0, 1, 3, 2, 4, 5)
    return b.reshape(images.shape)
