"""Ciphertext-only reconstruction of EtC images: from every image held under one key, or from one image.

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

One image alone (`solve_etc_jigsaw`) gives no statistics over images, but a block's content
still survives up to its rotation, mirror, negation and colour shuffle: the mean of the
channels removes the colour shuffle, and a greedy placer puts the grey blocks by the
smoothness of their edges, trying the 16 orientations and polarities of each.
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np

from keras_lie.errors import ImageShapeError
from keras_lie.security.ciphertext_only.jigsaw import JigsawSolution, solve_block_jigsaw
from keras_lie.security.geometry import orient
from keras_lie.security.metrics import gray
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


# -- one image ----------------------------------------------------------------------------------


def solve_etc_jigsaw(encrypted_image, block_size: int) -> np.ndarray:
    """Reassemble one EtC-encrypted image from its blocks alone; returns a grey (H, W) image in 0..255.

    A block's channel mean is blind to the colour shuffle; each block is tried
    in its 8 orientations and 2 polarities, and a greedy placer grows the image
    from the most confident pair of edges, always adding the block, orientation
    and place whose edges continue the placed ones best.
    """
    image = np.asarray(encrypted_image, np.float64)
    height, width, _ = image.shape
    m = block_size
    rows, columns = height // m, width // m
    pieces = gray(image[None])[0].reshape(rows, m, columns, m).transpose(0, 2, 1, 3).reshape(-1, m, m)
    states = np.stack([255.0 - orient(pieces, o) if negate else orient(pieces, o)
                       for negate in (False, True) for o in range(8)], axis=1)
    flat = states.reshape(-1, m, m)  # (pieces * 16, M, M)
    right = _edge_cost(flat[:, :, -1], flat[:, :, -2], flat[:, :, 0], flat[:, :, 1])
    below = _edge_cost(flat[:, -1, :], flat[:, -2, :], flat[:, 0, :], flat[:, 1, :])
    placement = _greedy_grid(right, below, len(pieces), 16, rows, columns)
    canvas = np.zeros((rows * m, columns * m))
    for (r, c), state in placement.items():
        canvas[r * m:(r + 1) * m, c * m:(c + 1) * m] = flat[state]
    return canvas


def _greedy_grid(right: np.ndarray, below: np.ndarray, pieces: int, states: int, rows: int, columns: int) -> dict:
    """Place `pieces` (each in one of `states`) on a rows x columns grid by pairwise costs.

    `right[a, b]`: cost of piece-state b right of a; `below[a, b]`: b below a
    (piece-state index = piece * states + state). Starts from the pair with the
    clearest best match, then adds, one at a time, the piece-state and free cell
    (within the grid's extent) with the lowest mean cost to its placed neighbours,
    preferring cells with more of them. Returns {(row, column): piece-state}.
    """
    count = pieces * states
    piece_of = np.arange(count) // states
    bonus = 0.1 * float(np.median(right[np.isfinite(right)]))  # a cell with more placed neighbours is surer
    # The first pair: the lowest right cost between different pieces.
    masked = right + np.where(piece_of[:, None] == piece_of[None, :], np.inf, 0.0)
    first, second = np.unravel_index(np.argmin(masked), masked.shape)
    placed = {(0, 0): int(first), (0, 1): int(second)}
    used = {int(piece_of[first]), int(piece_of[second])}
    while len(placed) < min(pieces, rows * columns):
        rs = [r for r, _ in placed]
        cs = [c for _, c in placed]
        free = {(r + dr, c + dc) for r, c in placed for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0))} - set(placed)
        best = (np.inf, None, None)
        available = np.array([piece_of[s] not in used for s in range(count)])
        for cell in free:
            r, c = cell
            if max(rs + [r]) - min(rs + [r]) >= rows or max(cs + [c]) - min(cs + [c]) >= columns:
                continue
            total, neighbours = np.zeros(count), 0
            for (dr, dc), table, forward in (((0, -1), right, True), ((0, 1), right, False),
                                             ((-1, 0), below, True), ((1, 0), below, False)):
                neighbour = placed.get((r + dr, c + dc))
                if neighbour is not None:
                    total += table[neighbour] if forward else table[:, neighbour]
                    neighbours += 1
            score = np.where(available, total / neighbours - bonus * (neighbours - 1), np.inf)
            choice = int(np.argmin(score))
            if score[choice] < best[0]:
                best = (score[choice], cell, choice)
        _, cell, choice = best
        placed[cell] = choice
        used.add(int(piece_of[choice]))
    top, left = min(r for r, _ in placed), min(c for _, c in placed)
    return {(r - top, c - left): state for (r, c), state in placed.items()}


def _edge_cost(last, before_last, first, after_first) -> np.ndarray:
    """Cost of b after a across an edge: how badly each side's linear prediction meets the other's pixels."""
    forward = 2 * last - before_last  # a's prediction of b's first line
    backward = 2 * first - after_first  # b's prediction of a's last line
    cost = ((forward[:, None, :] - first[None]) ** 2).mean(-1) + ((backward[None] - last[:, None, :]) ** 2).mean(-1)
    return np.sqrt(cost)
