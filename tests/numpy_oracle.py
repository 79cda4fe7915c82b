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


def _blocks(images, m):
    """(N, H, W, C) -> (N, n, M, M, C), blocks in row-major order."""
    n_images, height, width, c = images.shape
    b = images.reshape(n_images, height // m, m, width // m, m, c).transpose(0, 1, 3, 2, 4, 5)
    return b.reshape(n_images, -1, m, m, c)


def _unblocks(blocks, height, width):
    n_images, _, m, _, c = blocks.shape
    b = blocks.reshape(n_images, height // m, width // m, m, m, c).transpose(0, 1, 3, 2, 4, 5)
    return b.reshape(n_images, height, width, c)


def numpy_ele(images, nibble_keys, block_perm, m, decrypt=False):
    """ELE as SCHEMES.md section 2 writes it: five steps per block, then the location shuffle."""
    n_images, height, width, c = images.shape
    d = m * m * c
    blocks = _blocks(images, m).reshape(n_images, -1, d).astype(np.int64)
    out = np.empty_like(blocks)
    inverse_blocks = np.argsort(block_perm)
    for b in range(blocks.shape[1]):
        s = block_perm[b]
        k = np.asarray(nibble_keys[s])
        v = k > d  # strictly greater
        if decrypt:
            k = np.argsort(k)
            x = blocks[:, inverse_blocks[s]]
        else:
            x = blocks[:, s]
        a = np.concatenate([x % 16, x // 16], axis=-1)
        a1 = np.where(v, 15 - a, a)
        g = a1[:, k]
        h = np.where(v, 15 - g, g)
        y = 16 * h[:, d:] + h[:, :d]
        out[:, s if decrypt else b] = y
    return _unblocks(out.reshape(n_images, -1, m, m, c), height, width).astype(np.uint8)


def numpy_etc_block(block, rotation, negative, flip_vertical, flip_horizontal, channel_source):
    """SCHEMES.md 3.2 on one (M, M, C) block."""
    b1 = np.rot90(block, rotation, axes=(0, 1))
    b2 = 255 - b1 if negative else b1
    b3 = b2[::-1] if flip_vertical else (b2[:, ::-1] if flip_horizontal else b2)
    return b3[:, :, list(channel_source)]


def numpy_etc(images, key_arrays, m, channel_field="channel_perm", decrypt=False):
    """EtC as SCHEMES.md section 3 writes it, with the key as the reference file's arrays."""
    n_images, height, width, c = images.shape
    blocks = _blocks(images.astype(np.int64), m)
    out = np.empty_like(blocks)
    perm = key_arrays["block_perm"]
    inverse_blocks = np.argsort(perm)
    for b in range(blocks.shape[1]):
        s = perm[b]
        args = (key_arrays["rotation_ccw"][s], key_arrays["negative"][s], key_arrays["flip_vertical"][s],
                key_arrays["flip_horizontal"][s], key_arrays[channel_field][s])
        for i in range(n_images):
            if decrypt:  # undo in reverse order (3.3)
                y = blocks[i, inverse_blocks[s]]
                b3 = np.empty_like(y)
                b3[:, :, list(args[4])] = y
                b2 = b3[::-1] if args[2] else (b3[:, ::-1] if args[3] else b3)
                b1 = 255 - b2 if args[1] else b2
                out[i, s] = np.rot90(b1, (4 - args[0]) % 4, axes=(0, 1))
            else:
                out[i, b] = numpy_etc_block(blocks[i, s], *args)
    return _unblocks(out, height, width).astype(np.uint8)
