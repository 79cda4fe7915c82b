"""Exact key conversion: key rotation without retraining.

Within a block, the proposed encryption maps nibble vectors by
`e[i] = n[s[i]] ^ 15 * f[i]` (a permutation `s` and reversals `f`), and the
naive shuffle maps bytes by a permutation. A `BlockStem`'s first convolution
sees exactly one block per position, linearly, so a permutation of its inputs
and a reversal `u -> 1 - u` of scaled inputs can be folded into its kernel and
bias. That makes a model trained under one key exact under another.
"""

from __future__ import annotations

import keras
import numpy as np

from keras_lie.blocks import offset_coordinates
from keras_lie.errors import KeyMismatchError
from keras_lie.keys import Key, PlainKey
from keras_lie.models.classifier import encryption_info, find_block_stem
from keras_lie.schemes import get_scheme


def block_input_map(key: Key | None, input_mode: str, block_size: int, channels: int):
    """How `key` maps a block's stem inputs: `enc[i] = plain[source[i]]`, reversed where `flip`.

    Indices run over the stem's inputs of one block in (row, column, channel)
    order, the channels being the nibble channels (lower then upper) in
    "nibbles" mode. Raises KeyMismatchError where the map is not of this form.
    """
    d = block_size * block_size * channels
    if key is None or key.scheme == "plain":
        size = 2 * d if input_mode == "nibbles" else d
        return np.arange(size), np.zeros(size, bool)
    if key.scheme == "cat_map" or (key.scheme == "learnable" and input_mode != "nibbles"):
        raise KeyMismatchError(
            f"No exact conversion exists for {key.scheme!r} keys with a {input_mode!r} stem: "
            + (
                "the proposed scheme mixes nibbles inside bytes, which is not linear in the byte "
                "values; build the model with stem_input_mode='nibbles'."
                if key.scheme == "learnable"
                else "the cat map is a whole-image permutation that no block stem can undo."
            )
        )
    if key.block_size != block_size or key.channels != channels:
        raise KeyMismatchError(
            f"The key is for {key.block_size}x{key.block_size} blocks of {key.channels} channels, "
            f"the stem for {block_size}x{block_size} blocks of {channels}."
        )
    if key.scheme == "block_shuffle":
        permutation = np.asarray(key.permutation)
        if input_mode == "bytes":
            return permutation, np.zeros(d, bool)
        return np.concatenate([permutation, permutation + d]), np.zeros(2 * d, bool)
    source, xor = get_scheme(key).nibble_source("encrypt")  # learnable, nibbles
    return source, xor == 15


def convert_key(model: keras.Model, old_key: Key | None, new_key: Key, *, copy: bool = True) -> keras.Model:
    """Rewrite the stem so that `model` under `new_key` equals the original under `old_key`.

    For any images x: `converted(encrypt(x, new_key)) == model(encrypt(x, old_key))`
    up to float rounding. `old_key=None` (or a `PlainKey`) converts a model trained
    on plain images (see `from_plain`).

    Args:
        model: a model with one `BlockStem` ("nibbles" mode for the proposed scheme,
            "bytes" or "nibbles" for the naive shuffle).
        copy: return a converted copy (default) instead of changing `model` itself.
    """
    if copy:
        converted = keras.models.clone_model(model)
        converted.set_weights(model.get_weights())
        model = converted
    stem = find_block_stem(model)
    m, c = stem.block_size, stem.input_channels
    mode = stem.input_mode
    old_source, old_flip = block_input_map(old_key, mode, m, c)
    new_source, new_flip = block_input_map(new_key, mode, m, c)
    # enc_old[i] = enc_new[t[i]], reversed where g[i] (see the module docstring).
    new_inverse = np.argsort(new_source)
    t = new_inverse[old_source]
    g = new_flip[t] ^ old_flip

    kernel, bias = (np.asarray(w) for w in stem.block_conv.get_weights())
    flat = block_kernel_rows(kernel, m, c, mode)  # row i of the kernel for block input i
    old_rows = kernel.reshape(-1, kernel.shape[-1])[flat]
    new_kernel = kernel.reshape(-1, kernel.shape[-1]).copy()
    new_kernel[flat[t]] = np.where(g[:, None], -old_rows, old_rows)
    if stem.input_norm is None:
        new_bias = bias + old_rows[g].sum(axis=0)
    else:
        # Per-feature normalisation: BN(1 - u) = -BN(u) once the mean becomes 1 - mean and
        # beta -beta, so the kernel's sign flip alone carries the reversal; the bias stays.
        new_bias = bias
        gamma, beta, mean, variance = (np.asarray(w) for w in stem.input_norm.get_weights())
        new = [gamma.copy(), beta.copy(), mean.copy(), variance.copy()]
        sign = np.where(g, -1.0, 1.0)
        for array, old, transform in (
            (new[0], gamma, lambda v: v),
            (new[1], beta, lambda v: sign * v),
            (new[2], mean, lambda v: np.where(g, 1.0 - v, v)),
            (new[3], variance, lambda v: v),
        ):
            array[flat[t]] = transform(old[flat])
        stem.input_norm.set_weights(new)
    stem.block_conv.set_weights([new_kernel.reshape(kernel.shape), new_bias])

    info = encryption_info(model)
    if info is not None:
        info.scheme, info.key_fingerprint = new_key.scheme, new_key.fingerprint
    return model


def from_plain(model: keras.Model, new_key: Key, *, copy: bool = True) -> keras.Model:
    """Turn a model trained on plain images (with a BlockStem) into one for `new_key`'s images."""
    return convert_key(model, PlainKey(channels=new_key.channels), new_key, copy=copy)


def block_kernel_rows(kernel, block_size, channels, mode):
    """Row of the (M*M*in_channels, filters) kernel for each block input index i."""
    d = block_size * block_size * channels
    i = np.arange(2 * d if mode == "nibbles" else d)
    byte, half = i % d, i // d
    row, col, chan = offset_coordinates(byte, block_size, channels)
    in_channels = kernel.shape[2]
    return (row * block_size + col) * in_channels + half * channels + chan
