"""Ciphertext-only reconstruction at full resolution: every scheme's entry point, and the attack on
the schemes with one key for every block (the proposed scheme, the naive block shuffle).

Threat model: the attacker holds encrypted images only (what a trainer, or anyone
who intercepts the training set, gets), knows the scheme and the block size, and
has no key and no plain image. Every block of every image is encrypted with the
same key, so each encrypted position of a block (a nibble for the proposed
scheme, a byte for the naive shuffle) is one "symbol" whose values over all
blocks form a long sample. Natural images are smooth, and the attack reads the
key's structure off those samples:

1. **Roles** (proposed scheme): a symbol that comes from an upper nibble is
   nearly equal to the same symbol one block to the right or below, and
   correlates with the other upper symbols; a symbol from a lower nibble is close
   to noise. The d best-scoring symbols are the upper nibbles.
2. **Reversal parities** (proposed scheme): upper symbols correlate positively
   when both or neither are reversed, negatively otherwise; the principal
   eigenvector of their correlations gives every parity up to one global sign.
3. **Channels**: symbols of the same colour channel share every image's colour
   cast, so their per-image means agree; a balanced clustering of those means
   splits the symbols into C channel layers (the order of the layers is unknown).
4. **Positions**: inside a layer the symbols form an M x M grid that tiles the
   image; the right neighbour of the last column is the first column of the next
   block. With the dissimilarity "mean absolute difference of i and j in the same
   block" and "... of i and j in horizontally (vertically) adjacent blocks", the
   layout is a jigsaw on a torus: a greedy placement from every starting symbol,
   improved by swaps, keeps the layout with the smallest total dissimilarity, and
   the cyclic shift of each layer is fixed by which neighbours lie across a block
   boundary. For small problems a simulated annealing over all symbols at once
   competes, and the layout with the smaller total dissimilarity wins.

Every choice is made with the attacker's own criterion (dissimilarities between
encrypted samples), never with the plain images. The proposed scheme gives back
the upper 4 bits of every byte (a 16-level image at full resolution), up to one
global inversion (x -> 15 - x of every nibble); the naive shuffle gives back the
exact bytes. Both come with the colour channels in an unknown order, which does
not matter for a grey picture.
"""

from __future__ import annotations

import numpy as np

from keras_lie.blocks import block_grid, estimate_upper_nibbles, from_block_grid, nibbles
from keras_lie.errors import ImageShapeError, KerasLieError
from keras_lie.security.ciphertext_only.cat_map import reconstruct_cat_map
from keras_lie.security.ciphertext_only.ele import reconstruct_ele
from keras_lie.security.ciphertext_only.etc import reconstruct_etc
from keras_lie.security.result import Reconstruction, encrypted_batch

RECONSTRUCTABLE_SCHEMES = ("plain", "cat_map", "block_shuffle", "learnable", "ele", "etc")
_CHUNK = 2048  # blocks per chunk when averaging over symbol pairs (bounds memory)


def reconstruct_from_ciphertexts(encrypted_images, scheme: str, block_size: int | None = None, *,
                                 seed: int = 0) -> Reconstruction:
    """Rebuild full-resolution images from images encrypted with one unknown key, for every scheme.

    The attacker holds the encrypted images only (no key, no plain image) and
    knows the scheme and block size; every image given is used, since the key is
    the same for all of them. Each scheme gets the attack that uses its
    structure:

    - "learnable", "block_shuffle": this module (one key for every block);
    - "ele": `ciphertext_only.ele` (a key per block position, then a block shuffle);
    - "etc": `ciphertext_only.etc` (a jigsaw of oriented, negated blocks);
    - "cat_map": `ciphertext_only.cat_map` (the maps' linearity; `block_size` None);
    - "plain": the images as they are.

    Args:
        encrypted_images: uint8 (N, H, W, C) or (H, W, C), all encrypted with the
            same key of `scheme`. For the block-wise schemes, sides that are not
            multiples of `block_size` keep their remainder filled with the images' mean.
        scheme: the scheme the attacker knows was used.
        block_size: the block side M the attacker knows (or tries in turn); None
            for the whole-image schemes.
        seed: seeds the randomised searches (results vary little with it).

    Returns:
        A `Reconstruction`: `.grey` is (N, H, W) uint8 at full resolution; what
        ciphertexts cannot decide (a global symmetry, polarity, the channel order)
        is in `.ambiguities`.

    Raises:
        ImageShapeError: for a shape the scheme's attack cannot take.
        KerasLieError: for an unknown scheme or a missing block size.

    Example:

    >>> recon = reconstruct_from_ciphertexts(encrypted, "learnable", 4)
    >>> recon.grey.shape == encrypted.shape[:3]
    True
    """
    x = encrypted_batch(encrypted_images)
    if scheme not in RECONSTRUCTABLE_SCHEMES:
        raise KerasLieError(f"No ciphertext-only attack for scheme {scheme!r}; "
                            f"choose one of {', '.join(RECONSTRUCTABLE_SCHEMES)}.")
    if scheme == "plain":
        images = x.astype(np.float64)
        return Reconstruction(images, images, (), 256, colour=True)
    if scheme == "cat_map":
        return reconstruct_cat_map(x, seed=seed)
    if block_size is None:
        raise KerasLieError(f"The {scheme} attack needs the block size M (the attacker tries each in turn).")
    if scheme == "ele":
        return reconstruct_ele(x, int(block_size), seed=seed)
    if scheme == "etc":
        return reconstruct_etc(x, int(block_size), seed=seed)
    return _reconstruct_one_key_for_all_blocks(x, scheme, int(block_size), seed)


def _reconstruct_one_key_for_all_blocks(x: np.ndarray, scheme: str, m: int, seed: int) -> Reconstruction:
    """The attack on "learnable" and "block_shuffle" described in the module docstring."""
    n, h, w, c = x.shape
    if m < 1 or h < m or w < m:
        raise ImageShapeError(f"Images of {h} x {w} hold no whole {m} x {m} block.")
    d = m * m * c
    grid = block_grid(x, m).astype(np.int16)  # (N, H/M, W/M, d) bytes
    if scheme == "learnable":
        symbols = nibbles(grid).astype(np.float32)
        upper, parity = estimate_upper_nibbles(x, m)
        values = symbols[..., upper]
        values = np.where(parity > 0, values, 15 - values)
        to_bytes, levels = (lambda v: 16 * v + 8), 16
        ambiguities = ("global inversion", "channel order")
    else:
        values = grid.astype(np.float32)
        upper, parity = np.arange(d), np.ones(d)
        to_bytes, levels = (lambda v: v), 256
        ambiguities = ("channel order",)
    rng = np.random.default_rng(seed)
    placement = place_symbols(values, m, c, rng)  # placement[slot] = index into values' last axis
    blocks = values[..., placement]
    picture = from_block_grid(blocks, m, c)
    images, inverted = _full_size(to_bytes(picture), h, w), _full_size(to_bytes(levels - 1 - picture), h, w)
    if scheme == "block_shuffle":
        inverted = images
    return Reconstruction(images, inverted, ambiguities, levels, upper[placement], parity[placement], colour=True)


def place_symbols(values: np.ndarray, block_size: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """Place d symbols on the d (row, column, channel) slots of a block from their samples.

    `values`: (N, H/M, W/M, d) samples of each symbol in every block. Returns
    `placement` with `placement[slot]` the symbol put there. The criterion is the
    total dissimilarity of spatial neighbours (within blocks and across block
    boundaries); the smallest of several searches wins.
    """
    m, c = block_size, channels
    d = m * m * c
    within, right, down = _dissimilarities(values)
    means = values.reshape(values.shape[0], -1, d).mean(axis=1)
    colour = np.abs(means[:, :, None] - means[:, None, :]).mean(axis=0)
    torus_right, torus_down = np.minimum(within, right), np.minimum(within, down)
    exact = _block_graph(m, c)
    full_cost = [(exact[0], within), (exact[1], right), (exact[2], down)]
    candidates = []
    # Channel layers first, then each layer's jigsaw on the torus.
    labels = _balanced_clusters(colour, c, rng)
    layered = np.empty(d, np.int64)
    slots = np.arange(d).reshape(m, m, c)
    torus = _torus_graph(m, 1)
    for layer in range(c):
        members = np.flatnonzero(labels == layer)
        pair_costs = [(torus[0], torus_right[np.ix_(members, members)]), (torus[1], torus_down[np.ix_(members, members)])]
        order = _best_greedy_torus(pair_costs, m, rng)
        layered[slots[:, :, layer].ravel()] = members[order]
    candidates.append(layered)
    if d <= 96:  # the joint search is affordable: it helps when few images make the channel split noisy
        layer_of = np.arange(d) % c
        same_layer = (layer_of[:, None] == layer_of[None, :]).astype(np.float64)
        np.fill_diagonal(same_layer, 0)
        joint_torus = _torus_graph(m, c)
        joint = [(joint_torus[0], torus_right), (joint_torus[1], torus_down), (same_layer, colour * 2 / max(1, m * m - 1))]
        candidates.append(_anneal(joint, d, rng, steps=60 * d))
    best = None
    for placement in candidates:
        placement = _best_phase(full_cost, placement, m, c)
        placement, total = _descend(full_cost, placement, _cost(full_cost, placement))
        if best is None or total < best[1]:
            best = (placement, total)
    return best[0]


# -- statistics -------------------------------------------------------------------------

def _mean_abs_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[i, j] = mean over rows of |a[:, i] - b[:, j]|, in chunks of rows."""
    total = np.zeros((a.shape[1], b.shape[1]))
    for start in range(0, len(a), _CHUNK):
        total += np.abs(a[start : start + _CHUNK, :, None] - b[start : start + _CHUNK, None, :]).sum(axis=0)
    return total / max(1, len(a))


def _dissimilarities(values: np.ndarray):
    """Within a block; i in a block and j in the block to its right; ... below."""
    n, bh, bw, d = values.shape
    within = _mean_abs_difference(values.reshape(-1, d), values.reshape(-1, d))
    far = np.full((d, d), within.max() + 1.0)  # no neighbouring blocks: never prefer a boundary
    right = _mean_abs_difference(values[:, :, :-1].reshape(-1, d), values[:, :, 1:].reshape(-1, d)) if bw > 1 else far
    down = _mean_abs_difference(values[:, :-1].reshape(-1, d), values[:, 1:].reshape(-1, d)) if bh > 1 else far
    return within, right, down


# -- the placement problem ----------------------------------------------------------------
# A placement is a permutation p (slot -> symbol); its cost is sum_k sum_{s,t} A_k[s, t] B_k[p[s], p[t]]
# for slot relations A_k (which slot pairs are neighbours) and symbol dissimilarities B_k.


def _block_graph(m: int, c: int):
    """Slot neighbours of one block: within it (symmetric), and across its right and lower boundary."""
    d = m * m * c
    slots = np.arange(d).reshape(m, m, c)
    within = np.zeros((d, d))
    within[slots[:, :-1].ravel(), slots[:, 1:].ravel()] = 1
    within[slots[:-1].ravel(), slots[1:].ravel()] = 1
    within = within + within.T
    right = np.zeros((d, d))
    right[slots[:, -1].ravel(), slots[:, 0].ravel()] = 1
    down = np.zeros((d, d))
    down[slots[-1].ravel(), slots[0].ravel()] = 1
    return within, right, down


def _torus_graph(m: int, c: int):
    """Right and lower neighbours on the M x M torus of each of c layers."""
    d = m * m * c
    slots = np.arange(d).reshape(m, m, c)
    right = np.zeros((d, d))
    right[slots.ravel(), np.roll(slots, -1, axis=1).ravel()] = 1
    down = np.zeros((d, d))
    down[slots.ravel(), np.roll(slots, -1, axis=0).ravel()] = 1
    return right, down


def _cost(pairs, placement: np.ndarray) -> float:
    return float(sum((a * b[np.ix_(placement, placement)]).sum() for a, b in pairs))


def _swap_deltas(pairs, placement: np.ndarray) -> np.ndarray:
    """[r, s]: the change of cost when slots r and s exchange their symbols (relations with zero diagonal)."""
    total = 0.0
    for a, b in pairs:
        p = b[np.ix_(placement, placement)]
        g = a.T @ p  # g[r, s] = sum_k a[k, r] p[k, s]
        h = a @ p.T  # h[r, s] = sum_k a[r, k] p[s, k]
        gd, hd, pd = np.diag(g), np.diag(h), np.diag(p)
        delta = g + g.T - gd[:, None] - gd[None, :] + h + h.T - hd[:, None] - hd[None, :]
        # The sums above include k = r and k = s; take those terms out and add the r-s terms themselves.
        delta += a * (p - pd[:, None]) + a.T * (p.T - pd[:, None])
        delta -= a.T * (pd[None, :] - p.T) + a * (pd[None, :] - p)
        delta += a * (p.T - p) + a.T * (p - p.T)
        total = total + delta
    return total


def _descend(pairs, placement: np.ndarray, cost: float):
    placement = placement.copy()
    while True:
        delta = _swap_deltas(pairs, placement)
        np.fill_diagonal(delta, 0)
        r, s = np.unravel_index(np.argmin(delta), delta.shape)
        if delta[r, s] >= -1e-9:
            return placement, cost
        placement[[r, s]] = placement[[s, r]]
        cost += delta[r, s]


def _anneal(pairs, d: int, rng: np.random.Generator, steps: int) -> np.ndarray:
    """Rejection-free simulated annealing over swaps; returns the best placement seen."""
    placement = rng.permutation(d)
    cost = _cost(pairs, placement)
    upper = np.triu_indices(d, 1)
    scale = float(np.median(np.abs(_swap_deltas(pairs, placement)[upper]))) or 1.0
    best, best_cost = placement.copy(), cost
    for step in range(steps):
        temperature = scale * 0.003 ** (step / steps)
        delta = _swap_deltas(pairs, placement)[upper]
        uphill = np.maximum(delta, 0)
        # Relative to the cheapest move, so that at a local minimum and a low temperature the weights
        # do not all underflow to zero (which made p NaN).
        weights = np.exp(-(uphill - uphill.min()) / temperature)
        k = rng.choice(len(weights), p=weights / weights.sum())
        r, s = upper[0][k], upper[1][k]
        placement[[r, s]] = placement[[s, r]]
        cost += delta[k]
        if cost < best_cost:
            best, best_cost = placement.copy(), cost
    return best


def _balanced_clusters(distance: np.ndarray, k: int, rng: np.random.Generator, restarts: int = 20) -> np.ndarray:
    """Split the items into k equal groups with a small sum of within-group distances (swap descent)."""
    n = len(distance)
    best = None
    for _ in range(restarts):
        labels = rng.permutation(np.repeat(np.arange(k), n // k))
        while True:
            to_group = distance @ np.eye(k)[labels]  # [i, g]: sum of distances from i to group g
            own = to_group[np.arange(n), labels]
            across = to_group[:, labels]  # [i, j]: from i to j's group
            delta = across + across.T - own[:, None] - own[None, :] - 2 * distance
            delta[labels[:, None] == labels[None, :]] = 0
            i, j = np.unravel_index(np.argmin(delta), delta.shape)
            if delta[i, j] >= -1e-12:
                break
            labels[i], labels[j] = labels[j], labels[i]
        total = float((distance * (labels[:, None] == labels[None, :])).sum())
        if best is None or total < best[0]:
            best = (total, labels.copy())
    return best[1]


def _greedy_torus(right: np.ndarray, down: np.ndarray, m: int, start: int) -> np.ndarray:
    """Fill an M x M torus from `start`, each time the emptiest-surrounded cell with its best symbol."""
    n = m * m
    grid = -np.ones((m, m), np.int64)
    used = np.zeros(n, bool)
    grid[0, 0], used[start] = start, True
    for _ in range(n - 1):
        empty = np.argwhere(grid < 0)
        neighbours = np.stack([grid[empty[:, 0], (empty[:, 1] - 1) % m], grid[empty[:, 0], (empty[:, 1] + 1) % m],
                               grid[(empty[:, 0] - 1) % m, empty[:, 1]], grid[(empty[:, 0] + 1) % m, empty[:, 1]]], 1)
        filled = (neighbours >= 0).sum(axis=1)
        best = None
        fullest = filled == filled.max()
        for (row, col), (left, rightward, up, below) in zip(empty[fullest], neighbours[fullest], strict=True):
            total = np.zeros(n)
            if left >= 0:
                total += right[left, :]
            if rightward >= 0:
                total += right[:, rightward]
            if up >= 0:
                total += down[up, :]
            if below >= 0:
                total += down[:, below]
            total[used] = np.inf
            symbol = int(np.argmin(total))
            if best is None or total[symbol] < best[0]:
                best = (total[symbol], row, col, symbol)
        _, row, col, symbol = best
        grid[row, col], used[symbol] = symbol, True
    return grid.ravel()


def _best_greedy_torus(pairs, m: int, rng: np.random.Generator, starts: int = 64) -> np.ndarray:
    n = m * m
    best = None
    for start in rng.permutation(n)[:starts]:
        order = _greedy_torus(pairs[0][1], pairs[1][1], m, int(start))
        order, total = _descend(pairs, order, _cost(pairs, order))
        if best is None or total < best[1]:
            best = (order, total)
    return best[0]


def _best_phase(pairs, placement: np.ndarray, m: int, c: int) -> np.ndarray:
    """Cyclically shift each channel layer to where block boundaries fit best."""
    slots = np.arange(m * m * c).reshape(m, m, c)
    placement = placement.copy()
    for layer in range(c):
        best = None
        for rows in range(m):
            for cols in range(m):
                moved = slots.copy()
                moved[:, :, layer] = np.roll(np.roll(slots[:, :, layer], rows, 0), cols, 1)
                candidate = placement[moved.ravel()]
                total = _cost(pairs, candidate)
                if best is None or total < best[0]:
                    best = (total, candidate)
        placement = best[1]
    return placement


def _full_size(picture: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pad a reconstruction of the whole blocks back to the images' size with their mean."""
    n, h, w, c = picture.shape
    if (h, w) == (height, width):
        return picture.astype(np.float64)
    full = np.full((n, height, width, c), float(picture.mean()))
    full[:, :h, :w] = picture
    return full
