"""Ciphertext-only reconstruction of EtC images from every image held under one key.

Threat model: the attacker holds N images encrypted with one EtC key (block scrambling of
encryption-then-compression, Kurihara, Chuman, Kiya; SCHEMES.md section 3), knows the scheme
and the block size M, and has no plain image and no key. EtC moves whole blocks: ciphertext
position b holds the plain block from position `block_perm[b]`, turned or mirrored (one of
8 symmetries), maybe negated (255 - x) and with its colour channels permuted, the same for
every image under the key. Nothing of a block's content is lost, only its place and pose.

Method, step by step:

1. **Grey pieces.** The mean of a block's channels is blind to the colour shuffle, so every
   ciphertext block position gives one grey piece, seen in all N images: (N, P, M, M).
2. **Jigsaw.** `jigsaw.solve_block_jigsaw` places the pieces on the (H/M) x (W/M) grid with
   their orientations and polarities, from edge compatibilities summed over all images.
3. **Full-resolution pictures.** Each ciphertext block, turned and negated as the solution
   says, goes to its cell: the exact bytes of every image, up to the colour order.
4. **Colour.** Per block, the channel permutation is chosen so that its channels continue its
   placed neighbours' channels best over all images: the surest block first, then always the
   block whose choice against its already fixed neighbours is the clearest, then a few sweeps
   in which every block re-chooses against all its neighbours. One channel order for the whole
   set is left open.

What ciphertexts cannot decide: one symmetry of the whole picture (8 for a square image),
one global polarity (`inverted` holds the other) and one global channel order.
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np

from keras_lie.errors import ImageShapeError
from keras_lie.security.jigsaw import JigsawSolution, orient, solve_block_jigsaw
from keras_lie.security.result import Reconstruction, encrypted_batch

AMBIGUITIES = ("global orientation (one symmetry of the square for the whole set)",
               "global polarity (x or 255 - x for the whole set)",
               "global colour channel order")


def reconstruct_etc(encrypted_images, block_size: int, *, seed: int = 0) -> Reconstruction:
    """Rebuild EtC-encrypted images at full resolution from the ciphertexts alone.

    Args:
        encrypted_images: uint8 (N, H, W, C) (or (H, W, C)), all encrypted with one EtC key;
            H and W multiples of `block_size`.
        block_size: the block side M.
        seed: passed to the jigsaw solver (results barely depend on it).

    Returns:
        A `Reconstruction` with `images` (N, H, W, C) in one global polarity, symmetry and
        channel order, `inverted` = 255 - `images`, 256 levels and `colour=True` (the
        channels are ordered per block; see the module docstring).

    Example:

    >>> recon = reconstruct_etc(encrypted, 4)
    >>> recon.grey.shape == encrypted.shape[:3]
    True
    """
    x = encrypted_batch(encrypted_images)
    n, height, width, channels = x.shape
    m = block_size
    if m < 1 or height % m or width % m:
        raise ImageShapeError(f"EtC images must be whole blocks: {height}x{width} is not a multiple of {m}.")
    rows, columns = height // m, width // m
    blocks = x.astype(np.float64).reshape(n, rows, m, columns, m, channels).transpose(0, 1, 3, 5, 2, 4)
    blocks = blocks.reshape(n, rows * columns, channels, m, m)  # (N, P, C, M, M)
    solution = solve_block_jigsaw(blocks.mean(axis=2), rows, columns, seed=seed)
    placed = _place(blocks, solution)  # (N, P cells, C, M, M)
    if channels > 1:
        placed = _order_channels(placed, rows, columns)
    images = placed.reshape(n, rows, columns, channels, m, m).transpose(0, 1, 4, 2, 5, 3).reshape(n, height, width, channels)
    return Reconstruction(images=images, inverted=255.0 - images, ambiguities=AMBIGUITIES, levels=256,
                          colour=channels > 1)


def _place(blocks: np.ndarray, solution: JigsawSolution) -> np.ndarray:
    """Ciphertext blocks (N, P, C, M, M) turned, negated and moved to their cells."""
    out = np.empty_like(blocks)
    for piece in range(blocks.shape[1]):
        block = orient(blocks[:, piece], int(solution.orientation[piece]))
        out[:, solution.cell[piece]] = 255.0 - block if solution.negated[piece] else block
    return out


def _order_channels(placed: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """Per cell, the channel permutation that continues the neighbours' channels best (one global order left)."""
    n, cells, channels, m, _ = placed.shape
    perms = np.array(list(itertools.permutations(range(channels))))  # perms[k][c]: source of output channel c
    # Pair tables: cost[a, b][ca, cb] of channel ca of cell a meeting channel cb of its neighbour b.
    pairs: dict[tuple[int, int], np.ndarray] = {}
    inner = 1 if m > 1 else 0
    for r in range(rows):
        for c in range(columns):
            a = r * columns + c
            if c + 1 < columns:
                pairs[(a, a + 1)] = _channel_costs(placed[:, a, :, :, -1], placed[:, a, :, :, -1 - inner],
                                                   placed[:, a + 1, :, :, 0], placed[:, a + 1, :, :, inner])
            if r + 1 < rows:
                b = a + columns
                pairs[(a, b)] = _channel_costs(placed[:, a, :, -1, :], placed[:, a, :, -1 - inner, :],
                                               placed[:, b, :, 0, :], placed[:, b, :, inner, :])
    # table[(a, b)][k, l]: cost of permutation k at a and l at b.
    tables = {key: value[perms[:, None, :], perms[None, :, :]].sum(-1) for key, value in pairs.items()}
    neighbours: dict[int, list[tuple[int, np.ndarray]]] = {cell: [] for cell in range(cells)}
    for (a, b), table in tables.items():
        neighbours[a].append((b, table))  # rows: a's permutation
        neighbours[b].append((a, table.T))
    choice = np.full(cells, -1)
    # Start where one neighbour pair's relative permutation is clearest; fix that cell's permutation.
    start = max(tables, key=lambda key: _margin(tables[key].min(axis=0)))[0]
    choice[start] = 0
    totals = np.zeros((cells, len(perms)))
    known = np.zeros(cells, int)
    heap: list = []

    def fixed(cell):
        for other, table in neighbours[cell]:
            if choice[other] < 0:
                totals[other] += table[choice[cell]]  # rows: this cell's permutation
                known[other] += 1
                heapq.heappush(heap, (-known[other], -_margin(totals[other]), other))

    fixed(start)
    while heap:  # the cell with the most fixed neighbours, then the clearest choice, next
        _, _, cell = heapq.heappop(heap)
        if choice[cell] >= 0:
            continue
        choice[cell] = int(np.argmin(totals[cell]))
        fixed(cell)
    choice[choice < 0] = 0
    for _ in range(5):  # sweeps: every cell re-chooses against all its neighbours
        changed = False
        for cell in range(cells):
            total = sum(table[:, choice[other]] for other, table in neighbours[cell])
            pick = int(np.argmin(total))
            if total[pick] < total[choice[cell]] - 1e-9:
                choice[cell], changed = pick, True
        if not changed:
            break
    return np.stack([placed[:, cell, perms[choice[cell]]] for cell in range(cells)], axis=1)


def _channel_costs(last, before_last, first, after_first) -> np.ndarray:
    """(C, C) cost of channel ca's edge meeting channel cb's: squared linear-prediction errors over images."""
    forward = 2 * last - before_last  # (N, C, M): a's prediction of b's first line
    backward = 2 * first - after_first
    cost = ((forward[:, :, None] - first[:, None, :]) ** 2).sum(axis=(0, 3))
    return cost + ((backward[:, None, :] - last[:, :, None]) ** 2).sum(axis=(0, 3))


def _margin(costs: np.ndarray) -> float:
    """How clearly the best of some costs wins: (second - first) / second."""
    low = np.sort(costs)
    return float((low[1] - low[0]) / max(low[1], 1e-9)) if len(low) > 1 else 1.0
