"""The block jigsaw's edge costs: the pieces' sides under the 8 symmetries of the square, and what it costs
for two sides to meet (steps 1 to 3 of the method in `jigsaw`).

`EdgeCosts` holds, for pieces (N, P, M, M) seen in N images, every side's edge line
and its linear prediction of the line beyond it, so that the cost of any two sides
meeting, in any relative orientation and polarity, is two norms minus twice one dot
product; the tables below say which raw side of a piece faces which direction under
each symmetry. `jigsaw._Solver` assembles the pieces with these costs.
"""

from __future__ import annotations

import numpy as np

from keras_lie.security.geometry import orient

STEPS = ((-1, 0), (0, 1), (1, 0), (0, -1))  # directions 0..3: up, right, down, left
FULL_TABLE_PIECES = 512  # up to this many pieces, all side-to-side dot products are kept
PRUNE_IMAGES = 24  # from this many images on, large problems prune neighbours by brightness series
MAX_IMAGES = 512  # edge costs use at most this many images (the most varied): plenty to decide


# -- geometry tables -------------------------------------------------------------------------


def _sides(block: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per side (top, right, bottom, left): (edge line, line inside), read clockwise, on the last two axes."""
    inner = 1 if block.shape[-1] > 1 else 0
    return [(block[..., 0, :], block[..., inner, :]),
            (block[..., :, -1], block[..., :, -1 - inner]),
            (block[..., -1, ::-1], block[..., -1 - inner, ::-1]),
            (block[..., ::-1, 0], block[..., ::-1, inner])]


def _tables():
    """Lookup tables of the symmetries, computed from labelled blocks.

    side_of[o, d] = (raw side, reversed): which clockwise side of a raw piece faces direction d
    once the piece has orientation o, and whether it then reads backwards in the absolute
    order (left to right, top to bottom). compose[a, b]: orient(orient(x, a), b) == orient(x, compose[a, b]).
    move[g]: the 2x2 map of grid displacements when a whole picture gets symmetry g.
    """
    labels = np.arange(9).reshape(3, 3)
    raw = [line for line, _ in _sides(labels)]
    side_of = np.zeros((8, 4, 2), int)
    for o in range(8):
        block = orient(labels, o)
        lines = (block[0, :], block[:, -1], block[-1, :], block[:, 0])
        for d, line in enumerate(lines):
            for i, side in enumerate(raw):
                if np.array_equal(line, side):
                    side_of[o, d] = (i, 0)
                elif np.array_equal(line, side[::-1]):
                    side_of[o, d] = (i, 1)
    images = [orient(labels, o) for o in range(8)]
    compose = np.zeros((8, 8), int)
    for a in range(8):
        for b in range(8):
            compose[a, b] = next(c for c in range(8) if np.array_equal(orient(images[a], b), images[c]))
    move = np.zeros((8, 2, 2), int)
    for g in range(8):
        grid = orient(np.arange(9).reshape(3, 3), g)
        for axis, (dr, dc) in enumerate(((1, 0), (0, 1))):
            r, c = np.argwhere(grid == (1 + dr) * 3 + (1 + dc))[0]
            move[g, :, axis] = (r - 1, c - 1)
    return side_of, compose, move


SIDE_OF, COMPOSE, MOVE = _tables()
# PARTNER[d, j, f]: the orientation of a piece whose raw side j faces direction d, read backwards iff f.
PARTNER = np.zeros((4, 4, 2), int)
for _o in range(8):
    for _d in range(4):
        PARTNER[_d, SIDE_OF[_o, _d, 0], SIDE_OF[_o, _d, 1]] = _o
# DIRECTION[o, i] = (direction, reversed) of raw side i under orientation o.
DIRECTION = np.zeros((8, 4, 2), int)
for _o in range(8):
    for _d in range(4):
        DIRECTION[_o, SIDE_OF[_o, _d, 0]] = (_d, SIDE_OF[_o, _d, 1])


# -- the costs -------------------------------------------------------------------------------


class EdgeCosts:
    """Side vectors and edge costs of the pieces; the base of the jigsaw solver."""

    def __init__(self, x, rows, columns, orientations, negatable, top, seed):
        n, count, m, _ = x.shape
        self.rows, self.columns, self.count, self.m = rows, columns, count, m
        self.allowed = np.arange(8) < orientations  # 1: upright, 4: rotations, 8: all (each a group)
        self.negatable, self.top = negatable, top
        self.series = x.mean(axis=(2, 3))  # (N, P) brightness of every piece in every image
        if n > MAX_IMAGES:  # the most varied images decide the most
            spread = x.reshape(n, -1).std(axis=1) + np.random.default_rng(seed).random(n) * 1e-6
            x = x[np.sort(np.argsort(-spread)[:MAX_IMAGES])]
        centred = x - top / 2.0  # negation is a sign change
        edge = np.stack([e for e, _ in _sides(centred)], axis=2)  # (N, P, 4, M)
        inside = np.stack([i for _, i in _sides(centred)], axis=2)
        predicted = 2 * edge - inside if m > 1 else edge
        # X[p, i] . Y[q, j] = prediction of p into q's edge + q's prediction into p's edge.
        self.X = np.stack([predicted, edge], axis=-2).transpose(1, 2, 0, 3, 4).reshape(count, 4, -1)
        self.Y = np.stack([edge, predicted], axis=-2).transpose(1, 2, 0, 3, 4).reshape(count, 4, -1)
        self.Yr = np.stack([edge[..., ::-1], predicted[..., ::-1]], axis=-2).transpose(1, 2, 0, 3, 4).reshape(count, 4, -1)
        self.const = (predicted**2).sum(axis=(0, 3)) + (edge**2).sum(axis=(0, 3))  # (P, 4)
        self.full = None
        self.partners = None
        few = slice(0, 2 * min(len(x), 8) * m)  # the first few images' part of every side vector
        self.coarse = (self.X[:, :, few], self.Y[:, :, few], self.Yr[:, :, few])
        self.coarse_const = (predicted[:8] ** 2).sum(axis=(0, 3)) + (edge[:8] ** 2).sum(axis=(0, 3))
        if count <= FULL_TABLE_PIECES:
            xs = self.X.reshape(4 * count, -1)
            self.full = np.stack([xs @ self.Y.reshape(4 * count, -1).T, xs @ self.Yr.reshape(4 * count, -1).T], -1)
        # Relations (side i of a, side j of b, reversed) allowed by the orientation group.
        self.relation_ok = np.zeros((4, 4, 2), bool)
        for oa in np.flatnonzero(self.allowed):
            for d in range(4):
                i, fa = SIDE_OF[oa, d]
                for ob in np.flatnonzero(self.allowed):
                    j, fb = SIDE_OF[ob, (d + 2) % 4]
                    self.relation_ok[i, j, fa ^ fb] = True
        self.scale = max(float(np.median(self.const)), 1e-9)

    # - costs -

    def cross(self, a: int, i: int, subset=None, coarse: bool = False) -> np.ndarray:
        """Dot products (P or len(subset), 4, 2) of side i of piece a with every side of those pieces, plain and reversed.

        `coarse`: from a few images only (a cheap ranking of many pieces).
        """
        if coarse:
            x, y, yr = self.coarse
            return np.stack([y[subset] @ x[a, i], yr[subset] @ x[a, i]], axis=-1)
        if self.full is not None:
            table = self.full[4 * a + i].reshape(self.count, 4, 2)
            return table if subset is None else table[subset]
        y, yr = (self.Y, self.Yr) if subset is None else (self.Y[subset], self.Yr[subset])
        return np.stack([y @ self.X[a, i], yr @ self.X[a, i]], axis=-1)

    def contribution(self, a: int, oa: int, na: bool, d: int, subset=None, coarse: bool = False) -> np.ndarray:
        """Cost (P, 16) of every piece-state (orientation + 8 * negated) in direction d of piece a in state (oa, na).

        With `subset` (piece indices), only those pieces' rows.
        """
        i, fa = SIDE_OF[oa, d]
        c = self.cross(a, i, subset, coarse)
        table = self.coarse_const if coarse else self.const
        const = table if subset is None else table[subset]
        out = np.full((len(c), 16), np.inf)
        opposite = (d + 2) % 4
        for ob in np.flatnonzero(self.allowed):
            j, fb = SIDE_OF[ob, opposite]
            dot = c[:, j, fa ^ fb]
            base = table[a, i] + const[:, j]
            out[:, ob + 8 * int(na)] = base - 2 * dot
            if self.negatable:
                out[:, ob + 8 * int(not na)] = base + 2 * dot
        return np.maximum(out, 0.0)

    def pair_cost(self, a, sa, b, sb, d) -> float:
        """Cost of piece b in state sb in direction d of piece a in state sa."""
        i, fa = SIDE_OF[sa % 8, d]
        j, fb = SIDE_OF[sb % 8, (d + 2) % 4]
        if self.full is not None:
            dot = self.full[4 * a + i, 4 * b + j, fa ^ fb]
        else:
            dot = float(self.X[a, i] @ (self.Yr if fa ^ fb else self.Y)[b, j])
        sign = 1.0 if (sa >= 8) == (sb >= 8) else -1.0
        return max(self.const[a, i] + self.const[b, j] - 2 * sign * dot, 0.0)

    def candidate_edges(self) -> np.ndarray:
        """Rows (normalised cost, a, i, b, j, reversed, opposite polarity) of every side's best few matches, surest first."""
        count = self.count
        pruned = self.full is None and len(self.series) >= PRUNE_IMAGES
        candidates = self.brightness_candidates(min(count - 1, 24)) if pruned else None
        keep = min(6, 8 * (count - 1))
        chunk = max(1, min(count, 2**22 // (32 * count)) if candidates is None else 256)
        rows, seconds = [], []
        for start in range(0, count, chunk):
            a = np.arange(start, min(start + chunk, count))
            if candidates is None:
                others = np.broadcast_to(np.arange(count), (len(a), count))
                if self.full is not None:
                    dots = self.full[4 * a[0]:4 * (a[-1] + 1)].reshape(len(a), 4, count, 4, 2)
                else:
                    xs = self.X[a].reshape(4 * len(a), -1)
                    dots = np.stack([xs @ self.Y.reshape(4 * count, -1).T, xs @ self.Yr.reshape(4 * count, -1).T], -1)
                    dots = dots.reshape(len(a), 4, count, 4, 2)
            else:
                others = candidates[a]
                dots = np.stack([np.einsum("aid,akjd->aikj", self.X[a], self.Y[others]),
                                 np.einsum("aid,akjd->aikj", self.X[a], self.Yr[others])], -1)
            base = self.const[a][:, :, None, None, None] + self.const[others][:, None, :, :, None]
            if self.negatable:
                cost, flip = base - 2 * np.abs(dots), dots < 0
            else:
                cost, flip = base - 2 * dots, np.zeros(dots.shape, bool)
            cost = np.maximum(cost, 0.0)
            cost = np.where(self.relation_ok[None, :, None], cost, np.inf)
            cost = np.where((others == a[:, None])[:, None, :, None, None], np.inf, cost)
            k = others.shape[1]
            per_piece = cost.reshape(len(a), 4, k, 8).min(axis=-1)  # (A, 4, K)
            second = np.partition(per_piece, 1, axis=-1)[..., 1] if k > 1 else per_piece[..., 0] + self.scale
            second = np.where(np.isfinite(second), second, per_piece.min(axis=-1) + self.scale)
            second = np.maximum(second, 1e-9 * self.scale)
            flat = cost.reshape(len(a), 4, -1)
            best = np.argsort(flat, axis=-1, kind="stable")[..., :keep]  # (A, 4, keep)
            value = np.take_along_axis(flat, best, -1)
            kk, j, rev = np.unravel_index(best, (k, 4, 2))
            b = np.take_along_axis(np.broadcast_to(others[:, None, :], (len(a), 4, k)), kk, -1)
            flips = np.take_along_axis(flip.reshape(len(a), 4, -1), best, -1)
            ai = np.broadcast_to(a[:, None, None], best.shape)
            ii = np.broadcast_to(np.arange(4)[None, :, None], best.shape)
            seconds.append(second)
            rows.append(np.stack([value, ai, ii, b, j, rev, flips], -1).reshape(-1, 7))
        edges = np.concatenate(rows)
        second = np.concatenate(seconds)  # (P, 4)
        sides = edges[:, 1:5].astype(int)
        # Normalised by the second-best match of either side: a match counts as sure only if both sides agree.
        self.raw_cost = edges[:, 0].copy()
        edges[:, 0] /= np.minimum(second[sides[:, 0], sides[:, 1]], second[sides[:, 2], sides[:, 3]])
        if self.full is None:  # each side's best partners: the candidates when filling the frame
            self.partners = edges[:, 3].astype(int).reshape(count, 4, keep)
        finite = np.isfinite(edges[:, 0])
        edges, self.raw_cost = edges[finite], self.raw_cost[finite]
        return edges[np.argsort(edges[:, 0], kind="stable")]

    def brightness_candidates(self, k: int) -> np.ndarray:
        """For every piece, the k pieces whose brightness series over the images correlate most (either sign)."""
        s = self.series - self.series.mean(axis=0)
        s /= np.maximum(s.std(axis=0), 1e-9)
        if self.negatable:  # polarity from the leading eigenvector: image-wide brightness moves all pieces
            leading = np.linalg.svd(s, full_matrices=False)[2][0]
            s = s * np.where(leading >= 0, 1.0, -1.0)
        residual = s - s.mean(axis=1, keepdims=True)  # without the common part, neighbours stand out
        residual -= residual.mean(axis=0)
        residual /= np.maximum(np.linalg.norm(residual, axis=0), 1e-9)
        out = np.zeros((self.count, k), int)
        for start in range(0, self.count, 512):
            block = residual[:, start:start + 512].T @ residual
            block = np.abs(block) if self.negatable else block
            block[np.arange(block.shape[0]), np.arange(start, start + block.shape[0])] = -np.inf
            out[start:start + block.shape[0]] = np.argpartition(-block, k - 1, axis=1)[:, :k]
        return out

    def local_costs(self, grid: np.ndarray, states: np.ndarray) -> np.ndarray:
        """(P pieces, cells) of the best-state cost of each piece at each cell against the current neighbours."""
        out = np.zeros((self.count, self.rows * self.columns))
        for cell in range(self.rows * self.columns):
            r, c = divmod(cell, self.columns)
            total = np.zeros((self.count, 16))
            for d, (dr, dc) in enumerate(STEPS):
                rr, cc = r - dr, c - dc  # the neighbour that has this cell in direction d
                if 0 <= rr < self.rows and 0 <= cc < self.columns:
                    other = rr * self.columns + cc
                    total += self.contribution(grid[other], states[other] % 8, states[other] >= 8, d)
            out[:, cell] = total.min(axis=1)
        return out

    def arrangement_cost(self, placed: dict) -> float:
        grid = np.zeros(self.count, int)
        states = np.zeros(self.count, int)
        for (r, c), (piece, state) in placed.items():
            grid[r * self.columns + c], states[r * self.columns + c] = piece, state
        return self.total_cost(grid, states)

    def total_cost(self, grid: np.ndarray, states: np.ndarray) -> float:
        total = 0.0
        for r in range(self.rows):
            for c in range(self.columns):
                cell = r * self.columns + c
                if c + 1 < self.columns:
                    total += self.pair_cost(grid[cell], states[cell], grid[cell + 1], states[cell + 1], 1)
                if r + 1 < self.rows:
                    total += self.pair_cost(grid[cell], states[cell], grid[cell + self.columns],
                                            states[cell + self.columns], 2)
        return total
