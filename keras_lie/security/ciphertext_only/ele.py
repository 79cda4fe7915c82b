"""Ciphertext-only reconstruction of ELE-encrypted images from many images under one key.

Threat model: the attacker holds N images encrypted with one unknown ELE key (Madono et al.,
arXiv:2001.07761; `keras_lie.schemes.ele`), knows the scheme and the block size M, and has no
plain image. ELE gives every block position its own nibble key and then shuffles the blocks,
the same way in every image. So ciphertext block position b always holds the same plain block
position, with its 2d nibbles (d = M*M*C bytes; lower nibbles, then upper) permuted and some
complemented (x -> 15 - x) by one fixed nibble key: per position, N samples of 2d symbols.

Method, step by step:

1. **Upper nibbles and their reversals** (per position): upper nibbles of a block's bytes
   correlate strongly over the images, lower nibbles look like noise; the d most correlated
   symbols are the upper nibbles, and the signs of the leading eigenvector of their
   correlations give each one's reversal, up to one sign per position
   (`keras_lie.blocks.estimate_upper_nibbles_per_position`).
2. **Partial correlations** (per position): the inverse of the symbols' correlation matrix
   gives partial correlations; in natural images they are large only between direct
   neighbours (the other channels of the same pixel, and the same channel one pixel away)
   and near zero otherwise, a far sharper signal than the correlations themselves.
3. **Pixels**: the C symbols of one pixel are the most strongly linked: a balanced clustering
   (greedy pairs, then swap descent) splits the d symbols into M*M groups of C.
4. **Pixel layout**: the M*M groups go on the M x M grid by a quadratic assignment, from
   spectral initialisations (the two smoothest Laplacian eigenvectors of the positive
   partial-correlation graph, at several rotations) and random starts: swap descent first on
   a smooth correlation template (correlation versus pixel distance), then on the grid's
   4-neighbour adjacency against the partial correlations, then a few random kicks (iterated
   local search). Decidable only up to the 8 symmetries of the square.
5. **Position polarity**: every block brightens and darkens with its image, so the signs of
   the leading eigenvector (over positions) of the block-brightness series orient each
   position's unknown reversal sign.
6. **Jigsaw**: the grey 16-level blocks (upper nibble * 16 + 8, mean over channels) are
   pieces seen N times; `keras_lie.security.ciphertext_only.jigsaw.solve_block_jigsaw` places them in the
   frame in 8 orientations (and re-checks every polarity).

Every choice uses the ciphertexts and generic natural-image statistics only (two template
parameters fitted once on public CIFAR-10 training images). The result is the upper 4 bits of
the grey picture at full resolution, up to one global symmetry of the square and one global
polarity. The colour layout (which symbol is which channel) is not recovered: grey only.
"""

from __future__ import annotations

import numpy as np

from keras_lie.blocks import block_grid, correlation, estimate_upper_nibbles_per_position, nibbles
from keras_lie.errors import ImageShapeError
from keras_lie.security.ciphertext_only.jigsaw import solve_block_jigsaw
from keras_lie.security.result import Reconstruction, encrypted_batch

# Correlation of upper nibbles between two pixels at distance r (same channel), fitted by least squares
# on 3,000 public CIFAR-10 training images at M = 8: (1 + (r / 1.8)^2)^-0.275 (0.93 at r = 1, 0.69 at r = 3).
_TEMPLATE_SCALE, _TEMPLATE_POWER = 1.8, 0.275
_RIDGE = 0.01  # added to the correlation matrix before inverting it (few images, constant symbols)
_RANDOM_STARTS = 8
_KICKS = 40  # iterated local search, per (M - 2): random kicks from the best layout, then descent


def reconstruct_ele(encrypted_images, block_size: int, *, seed: int = 0) -> Reconstruction:
    """Rebuild the grey pictures of images encrypted with one unknown ELE key.

    Args:
        encrypted_images: uint8 (N, H, W, C) or (H, W, C), all encrypted with the same ELE key
            (H and W multiples of `block_size`). The more images, the better: each block
            position's statistics come from that position in every image.
        block_size: the block side M the attacker knows.
        seed: seeds the randomised searches (results vary little with it).

    Returns:
        A `Reconstruction` with 16 grey levels (the upper nibbles), the grey picture repeated in
        every channel (`colour=False`); see the module docstring for the method.
    """
    x = encrypted_batch(encrypted_images)
    n, h, w, c = x.shape
    m = int(block_size)
    if m < 1 or h % m or w % m:
        raise ImageShapeError(f"ELE needs image sides that are multiples of the block size {m}, got {h} x {w}.")
    rng = np.random.default_rng(seed)
    d = m * m * c
    rows, columns = h // m, w // m
    values = nibbles(block_grid(x, m)).reshape(n, rows * columns, 2 * d).astype(np.float64)
    upper, parity = estimate_upper_nibbles_per_position(x, m)
    pieces = np.empty((n, rows * columns, m, m))
    for position in range(rows * columns):
        chosen = np.flatnonzero(upper[position])
        symbols = values[:, position, chosen]
        symbols = np.where(parity[position, chosen] > 0, symbols, 15 - symbols)
        pieces[:, position] = block_pixels(symbols, m, c, rng)
    pieces = _orient_polarities(pieces)
    grey = 16 * pieces + 8
    solution = solve_block_jigsaw(grey, rows, columns, orientations=8, negatable=True, top=255.0, seed=seed)
    picture = solution.assemble(grey, 255.0)
    images = np.repeat(picture[..., None], c, axis=-1)
    return Reconstruction(images, 255.0 - images, ("global symmetry", "global inversion", "channel order"), 16,
                          colour=False)


def block_pixels(symbols: np.ndarray, block_size: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """Lay one position's upper-nibble symbols out as an M x M grey block (steps 2 to 4).

    Args:
        symbols: float (N, d), d = M*M*C: the position's upper nibbles over the images, reversals
            undone (up to one common sign).
        block_size: M.
        channels: C.
        rng: for the random starts.

    Returns:
        float (N, M, M): the block's grey upper nibbles (mean over each pixel's C symbols), up to
        a symmetry of the square.
    """
    m, c = block_size, channels
    corr = correlation(symbols, symbols)
    partial = _partial_correlations(corr)
    groups = _pixel_groups(partial, c, rng) if c > 1 else np.arange(m * m)
    member = np.eye(m * m)[groups]  # (d, M*M): symbol -> pixel group
    pixel_partial = member.T @ partial @ member
    pixel_corr = member.T @ corr @ member
    np.fill_diagonal(pixel_partial, 0)
    np.fill_diagonal(pixel_corr, 0)
    layout = _place_pixels(pixel_partial, pixel_corr, m, rng)  # layout[cell] = pixel group
    grey = symbols @ member / np.maximum(member.sum(axis=0), 1)  # (N, M*M) per group
    return grey[:, layout].reshape(-1, m, m)


def _partial_correlations(corr: np.ndarray) -> np.ndarray:
    """Partial correlations (zero diagonal) from a correlation matrix, with a small ridge."""
    precision = np.linalg.inv(corr + _RIDGE * np.eye(len(corr)))
    scale = np.sqrt(np.abs(np.diag(precision)))
    partial = -precision / scale[:, None] / scale[None, :]
    np.fill_diagonal(partial, 0)
    return partial


def _pixel_groups(partial: np.ndarray, size: int, rng: np.random.Generator, restarts: int = 3) -> np.ndarray:
    """Split the symbols into groups of `size` with the largest within-group partial correlation."""
    d = len(partial)
    k = d // size
    best = None
    for attempt in range(restarts):
        noisy = partial + (rng.normal(0, 0.03, partial.shape) if attempt else 0.0)
        labels = _greedy_groups(noisy, size)
        while True:  # swap descent on the exact criterion
            to_group = partial @ np.eye(k)[labels]
            own = to_group[np.arange(d), labels]
            across = to_group[:, labels]  # [i, j]: from i to j's group
            delta = across + across.T - own[:, None] - own[None, :] - 2 * partial
            delta[labels[:, None] == labels[None, :]] = -np.inf
            i, j = np.unravel_index(np.argmax(delta), delta.shape)
            if delta[i, j] <= 1e-12:
                break
            labels[i], labels[j] = labels[j], labels[i]
        total = float((partial * (labels[:, None] == labels[None, :])).sum())
        if best is None or total > best[0]:
            best = (total, labels.copy())
    return best[1]


def _greedy_groups(links: np.ndarray, size: int) -> np.ndarray:
    """Groups built greedily: the strongest free pair, then its best free partners."""
    d = len(links)
    labels = -np.ones(d, np.int64)
    free = np.ones(d, bool)
    group = 0
    while free.any():
        members = np.flatnonzero(free)
        sub = links[np.ix_(members, members)].copy()
        np.fill_diagonal(sub, -np.inf)
        if len(members) == 1:
            chosen = list(members)
        else:
            a, b = np.unravel_index(np.argmax(sub), sub.shape)
            chosen = [members[a], members[b]]
        free[chosen] = False
        while len(chosen) < size and free.any():
            rest = np.flatnonzero(free)
            best = rest[np.argmax(links[np.ix_(chosen, rest)].sum(axis=0))]
            chosen.append(best)
            free[best] = False
        labels[chosen] = group
        group += 1
    return labels


def _place_pixels(partial: np.ndarray, corr: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """Quadratic assignment of the M*M pixel groups to the grid cells (step 4); returns cell -> group."""
    cells = np.arange(m * m)
    dr = np.abs(cells[:, None] // m - cells[None, :] // m)
    dc = np.abs(cells[:, None] % m - cells[None, :] % m)
    adjacency = ((dr + dc) == 1).astype(np.float64)
    smooth = (1 + (np.hypot(dr, dc) / _TEMPLATE_SCALE) ** 2) ** -_TEMPLATE_POWER
    smooth -= smooth.mean()
    np.fill_diagonal(smooth, 0)
    starts = _corner_starts(partial, m) + _corner_starts(partial, m, 5) + _spectral_starts(partial, m)
    starts += [rng.permutation(m * m) for _ in range(_RANDOM_STARTS)]
    best = None
    for start in starts:
        for first in (_descend(smooth, corr, start)[0], start):
            layout, total = _descend(adjacency, partial, first)
            if best is None or total > best[1]:
                best = (layout, total)
    layout, total = best
    if m > 2:
        for kick in range(_KICKS * (m - 2)):
            kicked = _kick(layout, m, rng, kick)
            kicked, value = _descend(adjacency, partial, kicked)
            if value > total + 1e-12:
                layout, total = kicked, value
    return layout


def _kick(layout: np.ndarray, m: int, rng: np.random.Generator, kick: int) -> np.ndarray:
    """A random perturbation: two swaps, or (every other time) a random symmetry of a random square region.

    Swap descent gets stuck in layouts with a region turned or transposed against the rest (its
    inside right, its seams wrong); turning the region back is one move.
    """
    kicked = layout.reshape(m, m).copy()
    if kick % 2:
        size = int(rng.integers(2, m))
        top, left = rng.integers(0, m - size + 1, 2)
        region = kicked[top : top + size, left : left + size]
        turned = np.rot90(region, int(rng.integers(0, 4)))
        kicked[top : top + size, left : left + size] = turned.T if rng.random() < 0.5 else turned
        return kicked.ravel()
    kicked = kicked.ravel()
    for _ in range(2):
        a, b = rng.choice(m * m, 2, replace=False)
        kicked[[a, b]] = kicked[[b, a]]
    return kicked


def _corner_starts(links: np.ndarray, m: int, neighbours: int = 4) -> list[np.ndarray]:
    """Layouts from hop distances in the graph of mutual strongest links (each pixel's best 4).

    In natural images each pixel's 4 strongest partial correlations are, almost always, its grid
    neighbours, and the mutual ones form the grid graph itself. Hop distances from two corners a
    (row 0, column 0) and c (row 0, column M-1) then give every pixel's row (d_a + d_c) and
    column (d_a - d_c), exactly when the graph is exact.
    """
    n = len(links)
    best = np.argsort(-links, axis=1)[:, :neighbours]
    near = np.zeros((n, n), bool)
    near[np.repeat(np.arange(n), neighbours), best.ravel()] = True
    near &= near.T
    near &= links > 0.3 * np.median(links.max(axis=1))  # a border pixel's spare picks are weak links
    hops = np.where(near, 1.0, np.inf)
    np.fill_diagonal(hops, 0)
    for via in range(n):  # Floyd-Warshall
        hops = np.minimum(hops, hops[:, via : via + 1] + hops[via : via + 1, :])
    hops[np.isinf(hops)] = 2 * m
    degree = near.sum(axis=1)
    corners = np.flatnonzero(degree == 2)
    if len(corners) < 2:
        corners = np.argsort(-hops.max(axis=1), kind="stable")[:4]
    starts = []
    for a in corners[:4]:
        b = int(np.argmax(hops[a]))  # the opposite corner
        # Every pixel of the anti-diagonal is M - 1 hops from both a and b: prefer the corners among them.
        miss = np.abs(hops[a] - (m - 1)) + np.abs(hops[b] - (m - 1)) + (degree != 2)
        for c in np.argsort(miss, kind="stable")[:2]:
            row, column = hops[a] + hops[c], hops[a] - hops[c]
            rows = np.lexsort((column, row)).reshape(m, m)
            starts.append(np.concatenate([r[np.argsort(column[r], kind="stable")] for r in rows]))
    return starts


def _spectral_starts(links: np.ndarray, m: int, angles: int = 16) -> list[np.ndarray]:
    """Layouts from the two smoothest Laplacian eigenvectors of the positive links, at several rotations."""
    weights = np.maximum(links, 0)
    degree = weights.sum(axis=1)
    scale = 1 / np.sqrt(degree + 1e-12)
    _, vectors = np.linalg.eigh(np.eye(len(links)) - scale[:, None] * weights * scale[None, :])
    plane = vectors[:, 1:3] * scale[:, None]
    plane = plane / np.maximum(plane.std(axis=0), 1e-12)
    starts = []
    for angle in np.linspace(0, np.pi / 2, angles, endpoint=False):
        turned = plane @ np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        rows = np.argsort(turned[:, 0], kind="stable").reshape(m, m)
        starts.append(np.concatenate([row[np.argsort(turned[row, 1], kind="stable")] for row in rows]))
    return starts


def _descend(template: np.ndarray, links: np.ndarray, layout: np.ndarray) -> tuple[np.ndarray, float]:
    """Best-swap ascent of sum template[i, j] * links[layout[i], layout[j]] (both symmetric, zero diagonal)."""
    layout = layout.copy()
    arranged = links[np.ix_(layout, layout)]
    total = float((template * arranged).sum())
    while True:
        g = template @ arranged
        diagonal = np.diag(g)
        delta = 2 * (g + g.T - diagonal[:, None] - diagonal[None, :] + 2 * template * arranged)
        r, s = np.unravel_index(np.argmax(delta), delta.shape)
        if delta[r, s] <= 1e-12:
            return layout, total
        layout[[r, s]] = layout[[s, r]]
        arranged[[r, s]] = arranged[[s, r]]
        arranged[:, [r, s]] = arranged[:, [s, r]]
        total += float(delta[r, s])


def _orient_polarities(pieces: np.ndarray) -> np.ndarray:
    """Undo each position's unknown reversal sign with the leading eigenvector of the block-brightness series.

    `pieces`: (N, P, M, M) in 0..15. Positions whose sign comes out negative are complemented.
    """
    if len(pieces) < 2 or pieces.shape[1] < 2:
        return pieces
    brightness = pieces.mean(axis=(2, 3))
    _, vectors = np.linalg.eigh(correlation(brightness, brightness))
    lead = vectors[:, -1]
    lead = lead if lead.sum() >= 0 else -lead
    flip = lead < 0
    pieces = pieces.copy()
    pieces[:, flip] = 15 - pieces[:, flip]
    return pieces
