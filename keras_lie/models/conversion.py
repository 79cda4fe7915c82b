"""Exact key conversion: key rotation without retraining.

Within a block, the proposed encryption maps nibble vectors by
`e[i] = n[s[i]] ^ 15 * f[i]` (a permutation `s` and reversals `f`), and the
naive shuffle maps bytes by a permutation. A `BlockStem`'s first convolution
sees exactly one block per position, linearly, so a permutation of its inputs
and a reversal `u -> 1 - u` of scaled inputs can be folded into its kernel and
bias. That makes a model trained under one key exact under another.

The position-keyed schemes (ELE, EtC) map each block position by its own
signed permutation and then move the blocks; a block-token ViT (`vit`) with a
per-position normalisation and embedding absorbs both: each position's map
goes into that position's weights, and the token order does not matter to the
transformer after it.
"""

from __future__ import annotations

import keras
import numpy as np

from keras_lie.blocks import offset_coordinates
from keras_lie.errors import KeyMismatchError
from keras_lie.keys import Key, PlainKey
from keras_lie.layers import BlockTokens, PositionwiseDense
from keras_lie.models.classifier import encryption_info, find_block_stem, walk_layers
from keras_lie.registry import scheme_record
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
    if scheme_record(key).is_position_keyed:
        raise KeyMismatchError(
            f"{key.scheme!r} keys transform every block position with its own key and move the blocks; no block "
            "stem shared across positions can undo that. Use a block-token ViT (keras_lie.models.vit) with "
            "shared_embedding=False, which convert_key converts exactly."
        )
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
            "bytes" or "nibbles" for the naive shuffle), or a block-token ViT from
            `keras_lie.models.vit` (any block-wise scheme, ELE and EtC included; nibble
            tokens for the proposed scheme and ELE; per-position embedding for ELE and EtC).
        copy: return a converted copy (default) instead of changing `model` itself.
    """
    if copy:
        converted = keras.models.clone_model(model)
        converted.set_weights(model.get_weights())
        model = converted
    tokens = [layer for layer in walk_layers(model) if isinstance(layer, BlockTokens)]
    if tokens:
        _convert_block_tokens(model, tokens, old_key, new_key)
    else:
        _convert_block_stem(model, old_key, new_key)
    info = encryption_info(model)
    if info is not None:
        info.scheme, info.key_fingerprint = new_key.scheme, new_key.fingerprint
    return model


def _convert_block_stem(model: keras.Model, old_key: Key | None, new_key: Key) -> None:
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


def token_input_map(key: Key | None, input_mode: str, block_size: int, channels: int, blocks: int):
    """How `key` maps a block-token model's tokens, per output block position.

    Returns `(block_source, source, flip)`: encrypted token `b` is plain token
    `block_source[b]` with features `enc[b, i] = plain[block_source[b], source[b, i]]`,
    reversed (`u -> 1 - u`) where `flip[b, i]`. Features are those of `BlockTokens`
    (bytes, or the lower then the upper nibbles). Raises KeyMismatchError where
    the map is not of this form.
    """
    d = block_size * block_size * channels
    features = 2 * d if input_mode == "nibbles" else d
    if key is not None and scheme_record(key).is_position_keyed:
        if (key.block_size, key.channels, key.blocks) != (block_size, channels, blocks):
            raise KeyMismatchError(
                f"The key is for {key.image_size[0]}x{key.image_size[1]} images in {key.block_size}x{key.block_size} "
                f"blocks of {key.channels} channels ({key.blocks} blocks); the model has {blocks} tokens of "
                f"{block_size}x{block_size}x{channels}."
            )
        scheme = get_scheme(key)
        if key.scheme == "ele":
            if input_mode != "nibbles":
                raise KeyMismatchError("No exact conversion exists for 'ele' keys with byte tokens: ELE mixes nibbles "
                                       "inside bytes; build the model with input_mode='nibbles'.")
            source, xor = scheme.nibble_sources("encrypt")
            return scheme.block_sources("encrypt"), source, xor == 15
        if not key.invertible:
            raise KeyMismatchError("An etc key with the reference code's lossy colour step has no exact conversion.")
        offsets, xor = (scheme.rows_for_output(table, "encrypt") for table in scheme.encryption_maps())
        flip = xor == 255
        if input_mode == "nibbles":  # 255 - x reverses both nibbles
            offsets, flip = np.concatenate([offsets, offsets + d], axis=1), np.concatenate([flip, flip], axis=1)
        return scheme.block_sources("encrypt"), offsets, flip
    source, flip = block_input_map(key, input_mode, block_size, channels)
    return (np.arange(blocks), np.broadcast_to(source, (blocks, features)),
            np.broadcast_to(flip, (blocks, features)))


def _convert_block_tokens(model: keras.Model, tokens: list, old_key: Key | None, new_key: Key) -> None:
    layers = {layer.name: layer for layer in walk_layers(model)}
    if len(tokens) != 1 or "block_norm" not in layers or "block_embedding" not in layers:
        raise ValueError("convert_key converts block-token models built by keras_lie.models.vit (one BlockTokens, "
                         "a block_norm and a block_embedding layer).")
    token_layer, norm, embedding = tokens[0], layers["block_norm"], layers["block_embedding"]
    blocks, features = token_layer.output.shape[1], token_layer.output.shape[2]
    m = token_layer.block_size
    channels = features // (m * m * (2 if token_layer.input_mode == "nibbles" else 1))
    maps = [token_input_map(key, token_layer.input_mode, m, channels, blocks) for key in (old_key, new_key)]
    (old_blocks, old_source, old_flip), (new_blocks, new_source, new_flip) = maps
    # New token c is plain block new_blocks[c], which the old key put at position b[c]; its new
    # feature j is plain feature new_source[c, j], which the old key put at feature i[c, j].
    b = np.argsort(old_blocks)[new_blocks]
    i = np.take_along_axis(np.argsort(old_source, axis=1)[b], new_source, axis=1)
    g = np.take_along_axis(old_flip[b], i, axis=1) ^ new_flip
    sign = np.where(g, -1.0, 1.0)
    positionwise = isinstance(embedding, PositionwiseDense)
    if not positionwise and not ((b == np.arange(blocks)).all() and (i == i[0]).all() and (g == g[0]).all()):
        raise KeyMismatchError(
            "A shared block embedding cannot follow a key that treats block positions differently "
            f"({new_key.scheme!r}); build the model with shared_embedding=False."
        )
    kernel, bias = (np.asarray(w) for w in embedding.get_weights())
    if positionwise:
        new_kernel = sign[..., None] * kernel[b[:, None], i]
        new_bias = bias[b]
    else:
        new_kernel, new_bias = sign[0][:, None] * kernel[i[0]], bias
    embedding.set_weights([new_kernel, new_bias])
    # BN(1 - u) = -BN(u) once the mean becomes 1 - mean and beta -beta (see _convert_block_stem).
    gamma, beta, mean, variance = (np.asarray(w).reshape(-1, features) for w in norm.get_weights())
    rows = b[:, None] if positionwise else np.zeros((1, 1), int)
    picked = i if positionwise else i[:1]
    flip, signs = (g, sign) if positionwise else (g[:1], sign[:1])
    new_mean = mean[rows, picked]
    norm.set_weights([w.reshape(-1) for w in (gamma[rows, picked], signs * beta[rows, picked],
                                              np.where(flip, 1.0 - new_mean, new_mean), variance[rows, picked])])


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
