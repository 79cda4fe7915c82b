"""Known-plaintext key recovery for the block-wise schemes.

Threat model: the attacker holds a few plain images and their encryptions under
one key (for example, a published sample), but not the key. Because every
block of every image is encrypted with the same key, each (plain block,
encrypted block) pair is an equation on the key: an encrypted position must take
its value from a plain position (nibble, for the proposed scheme) that matches
it, or matches its reversal 15 - x, in every observed block. Positions whose
candidates narrow to one give the key; a position with a unique source also
fixes that source for the others (the key is a permutation).

The position-keyed schemes (ELE, EtC; and the cat map, whose units are bytes and
whose "blocks" single pixels) give every block position its own key, so the
pairs decide a decryption map instead (`recover_map_known_plaintext`): a unit's
values over the pairs (up to reversal) are its signature; equal signatures name
the candidates, and every unit of an encrypted block must come from one plain
block. `known_plaintext_curve` measures how many pairs that takes.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_lie.blocks import block_vectors, nibble_vectors
from keras_lie.keys import BlockShuffleKey, LearnableKey
from keras_lie.security.geometry import UNITS, units
from keras_lie.security.metrics import gray, ssim
from keras_lie.security.result import DecryptionMap


@dataclasses.dataclass
class KeyRecovery:
    """The outcome of a known-plaintext attack."""

    scheme: str
    positions: int  # key positions (2d nibbles or d bytes)
    resolved: int  # positions with exactly one candidate source
    blocks_used: int
    key: LearnableKey | BlockShuffleKey | None  # the recovered key, when fully resolved

    @property
    def complete(self) -> bool:
        return self.key is not None


def recover_key(plain, encrypted, scheme: str, block_size: int, max_blocks: int | None = None) -> KeyRecovery:
    """Recover a `learnable` or `block_shuffle` key from plain/encrypted image pairs.

    `max_blocks` uses only the first blocks of the pairs (to measure how few suffice).
    """
    plain, encrypted = np.asarray(plain), np.asarray(encrypted)
    channels = plain.shape[-1]
    if scheme == "learnable":
        p, e = nibble_vectors(plain, block_size)[:max_blocks], nibble_vectors(encrypted, block_size)[:max_blocks]
        candidates = _all_equal(e, p) | _all_equal(e, 15 - p)
    elif scheme == "block_shuffle":
        p, e = block_vectors(plain, block_size)[:max_blocks], block_vectors(encrypted, block_size)[:max_blocks]
        candidates = _all_equal(e, p)
    else:
        raise ValueError(f"Known-plaintext recovery is implemented for 'learnable' and 'block_shuffle', not {scheme!r}.")
    candidates = _propagate(candidates)
    unique = candidates.sum(axis=1) == 1
    key = None
    if unique.all():
        source = candidates.argmax(axis=1)
        if len(set(source.tolist())) == len(source):
            cls = LearnableKey if scheme == "learnable" else BlockShuffleKey
            key = cls(block_size, channels, source)
    return KeyRecovery(scheme, len(candidates), int(unique.sum()), len(p), key)


def pairs_needed(plain, encrypted, scheme: str, block_size: int) -> dict:
    """How much known plaintext recovers the whole key.

    Returns the fewest image pairs (1, 2, 3, ...) and the fewest blocks (searched
    over 1, 2, 4, 8, ... blocks) that give the complete key, the key, and a trace of
    how many key positions each amount resolved.
    """
    trace, result = [], {"pairs": None, "blocks": None, "key": None}
    total_blocks = len(block_vectors(plain, block_size))
    blocks = 1
    while True:
        attempt = recover_key(plain, encrypted, scheme, block_size, max_blocks=blocks)
        trace.append({"blocks": attempt.blocks_used, "resolved": attempt.resolved, "positions": attempt.positions})
        if attempt.complete:
            result.update(blocks=attempt.blocks_used, key=attempt.key)
            break
        if blocks >= total_blocks:
            break
        blocks = min(2 * blocks, total_blocks)
    for count in range(1, len(plain) + 1):
        if recover_key(plain[:count], encrypted[:count], scheme, block_size).complete:
            result["pairs"] = count
            break
    result["trace"] = trace
    return result


def _all_equal(encrypted: np.ndarray, plain: np.ndarray) -> np.ndarray:
    """[i, j]: encrypted column i equals plain column j in every block (chunked over blocks)."""
    result = np.ones((encrypted.shape[1], plain.shape[1]), bool)
    for start in range(0, len(encrypted), 4096):
        e, p = encrypted[start : start + 4096], plain[start : start + 4096]
        result &= (e[:, :, None] == p[:, None, :]).all(axis=0)
    return result


def _propagate(candidates: np.ndarray) -> np.ndarray:
    """A source claimed by a resolved position is no candidate for any other."""
    candidates = candidates.copy()
    while True:
        resolved = candidates.sum(axis=1) == 1
        taken = candidates[resolved].any(axis=0)
        pruned = candidates & ~(taken[None, :] & ~resolved[:, None])
        if np.array_equal(pruned, candidates):
            return candidates
        candidates = pruned


def blocks_needed_per_image(plain, encrypted, scheme: str, block_size: int) -> dict:
    """For each image alone: the fewest of its blocks (in raster order) that give the whole key.

    Not the best case over images: every image is measured, and the summary gives
    the share of images that alone recover the key and the distribution of the
    blocks they need (median, 90th percentile, maximum). An image that cannot
    give the key on its own (too flat: its blocks match several sources) counts
    as `None`.
    """
    plain, encrypted = np.asarray(plain), np.asarray(encrypted)
    per_image: list[int | None] = []
    for p, e in zip(plain, encrypted, strict=True):
        total = len(block_vectors(p[None], block_size))
        if not recover_key(p[None], e[None], scheme, block_size).complete:
            per_image.append(None)
            continue
        low, high = 1, total  # the smallest prefix that completes (monotone in the blocks used)
        while low < high:
            middle = (low + high) // 2
            if recover_key(p[None], e[None], scheme, block_size, max_blocks=middle).complete:
                high = middle
            else:
                low = middle + 1
        per_image.append(low)
    found = np.array([b for b in per_image if b is not None])
    return {
        "images": len(per_image),
        "share_of_images_that_give_the_key": len(found) / max(1, len(per_image)),
        "blocks_median": float(np.median(found)) if len(found) else None,
        "blocks_90th_percentile": float(np.percentile(found, 90)) if len(found) else None,
        "blocks_max": int(found.max()) if len(found) else None,
        "blocks_min": int(found.min()) if len(found) else None,
        "per_image": per_image,
    }


# -- position-keyed schemes: a decryption map -------------------------------------------------


def recover_map_known_plaintext(plain, encrypted, scheme: str, block_size: int) -> DecryptionMap:
    """The decryption map, as far as plain/encrypted pairs decide it (undecided units: -1)."""
    unit = UNITS[scheme]
    plain, encrypted = np.asarray(plain), np.asarray(encrypted)
    top = 15 if unit == "nibble" else 255
    p, e = units(plain, unit).T, units(encrypted, unit).T  # (units, images)
    # A signature and its reversal are one class; its canonical form has a low first value.
    flip_p, flip_e = p[:, 0] > top // 2, e[:, 0] > top // 2
    canonical_p, canonical_e = np.where(flip_p[:, None], top - p, p), np.where(flip_e[:, None], top - e, e)
    index: dict[bytes, list[int]] = {}
    for unit_index, row in enumerate(canonical_p.astype(np.uint8)):
        index.setdefault(row.tobytes(), []).append(unit_index)
    candidates = [index.get(row.tobytes(), []) for row in canonical_e.astype(np.uint8)]
    # Every unit of an encrypted block comes from one plain block: where its units' candidates
    # agree on one block, keep only the candidates in it.
    block_of = _unit_blocks(plain.shape[1:], block_size, unit)
    source = np.full(len(candidates), -1, np.int64)
    for units_of_block in _units_by_block(block_of):
        shared = None
        for u in units_of_block:
            blocks = {int(block_of[c]) for c in candidates[u]}
            shared = blocks if shared is None else shared & blocks
        if shared is None or len(shared) != 1:
            continue
        block = shared.pop()
        for u in units_of_block:
            inside = [c for c in candidates[u] if block_of[c] == block]
            if len(inside) == 1:
                source[u] = inside[0]
    reversed_ = flip_e != flip_p[np.maximum(source, 0)]
    return DecryptionMap(unit, tuple(plain.shape[1:]), source, reversed_)


def known_plaintext_curve(plain, encrypted, scheme: str, block_size: int, counts=(1, 2, 4, 8, 16, 32)) -> list[dict]:
    """How much of the map known pairs decide, and whether it decrypts the other images, per number of pairs."""
    plain, encrypted = np.asarray(plain), np.asarray(encrypted)
    rows = []
    for count in counts:
        if count >= len(plain):
            break
        recovered = recover_map_known_plaintext(plain[:count], encrypted[:count], scheme, block_size)
        held_out = slice(count, None)
        decrypted = recovered.decrypt(encrypted[held_out])
        rows.append({"pairs": count, "units_decided": float(np.mean(recovered.source >= 0)),
                     "complete": recovered.complete,
                     "decrypts_other_images_exactly": bool(np.array_equal(decrypted, plain[held_out])),
                     "ssim_other_images": ssim(gray(plain[held_out])[..., None], gray(decrypted)[..., None])})
    return rows


def _unit_blocks(image_shape, block_size: int, unit: str) -> np.ndarray:
    """The raster index of the block of every unit."""
    height, width, channels = image_shape
    rows = np.arange(height)[:, None, None] // block_size
    columns = np.arange(width)[None, :, None] // block_size
    block = np.broadcast_to(rows * (width // block_size) + columns, (height, width, channels)).reshape(-1)
    return np.concatenate([block, block]) if unit == "nibble" else block


def _units_by_block(block_of: np.ndarray):
    order = np.argsort(block_of, kind="stable")
    boundaries = np.flatnonzero(np.diff(block_of[order])) + 1
    return np.split(order, boundaries)
