"""A jigsaw solver for square pieces of unknown place, orientation and polarity, seen in many images at once.

Threat model: the block-scrambling schemes (EtC, and ELE once its blocks' brightness is
read) move every block of an image to another place and turn, mirror and maybe negate it,
the same way in every image encrypted with one key. An attacker who holds N such images
has, for every ciphertext block position, a "piece" seen N times: a series (N, M, M). The
pieces tile a rows x columns picture; which piece sits where, in which of the 8 symmetries
of the square and in which polarity (x or top - x) is the key's secret. Edges that really
meet continue each other in every image, so their compatibility summed over the images
tells them apart far better than one image can.

Method, step by step:

1. **Sides.** Each piece has 4 sides, each read clockwise; for each side its edge line and
   its linear prediction of the line beyond it (2 * edge - the line inside), per image,
   centred on top / 2 so that negation is a sign change.
2. **Edge cost.** Two sides that meet (possibly with one line reversed, when one of the
   pieces is mirrored relative to the other; possibly of opposite polarity) cost the squared
   error of each side's prediction of the other's edge line, summed over images (the
   prediction-based cost of `position_keyed._edge_cost`). Expanded, the cost is two norms
   minus twice one dot product, so all pairs come from one matrix product; polarity only
   flips the sign of the dot product. Large problems (many pieces and many images) first
   prune the candidate neighbours of every piece to those whose brightness series over the
   images correlate best (neighbouring blocks brighten and darken together), a cost that
   ignores orientation.
3. **Normalised compatibilities.** Every side's best matches are divided by its second-best
   match with another piece (Gallagher, CVPR 2012, "Jigsaw puzzles with pieces of unknown
   orientation"): a clear winner scores near 0, an ambiguous one near 1.
4. **Kruskal assembly.** Matches are taken most confident first; each joins two clusters of
   pieces with fixed relative places, orientations and polarities, unless the pieces would
   overlap or the merged cluster would no longer fit the rows x columns frame.
5. **Fitting the frame.** The largest cluster is set in the frame and grown one cell at a time:
   the empty cell with the most placed neighbours, and among those the clearest best
   piece-state, takes that piece-state.
6. **Refinement.** Each piece's orientation and polarity is re-chosen given its neighbours,
   and (for up to a few hundred pieces) pairs of pieces are swapped while the total edge
   cost drops.

What the pieces cannot decide: one symmetry of the whole picture (8, or fewer for a
non-square frame) and, with negatable pieces, one global polarity.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_lie.errors import ImageShapeError

_STEPS = ((-1, 0), (0, 1), (1, 0), (0, -1))  # directions 0..3: up, right, down, left
_FULL_TABLE_PIECES = 512  # up to this many pieces, all side-to-side dot products are kept
_PRUNE_IMAGES = 24  # from this many images on, large problems prune neighbours by brightness series
_MAX_IMAGES = 512  # edge costs use at most this many images (the most varied): plenty to decide


@dataclasses.dataclass
class JigsawSolution:
    """Where and how each piece goes.

    Attributes:
        cell: int (P,): raster cell index (row * columns + column) of each piece.
        orientation: int (P,): 0..7, the symmetry applied to each piece before placing it
            (k = o % 4 quarter turns with `np.rot90` over axes (-2, -1), then the columns
            mirrored if o >= 4).
        negated: bool (P,): the piece is used as (top - value).
        rows, columns: the frame, in pieces.
    """

    cell: np.ndarray
    orientation: np.ndarray
    negated: np.ndarray
    rows: int = 0
    columns: int = 0

    def assemble(self, pieces, top: float = 255.0) -> np.ndarray:
        """The pictures (N, rows * M, columns * M) from pieces (N, P, M, M) (or (P, M, M) for one image)."""
        pieces = np.asarray(pieces, np.float64)
        single = pieces.ndim == 3
        if single:
            pieces = pieces[None]
        n, count, m, _ = pieces.shape
        rows, columns = self.rows, self.columns
        if rows * columns != count:
            raise ImageShapeError(f"The solution places {rows * columns} pieces, got {count}.")
        grid = np.zeros((n, rows * columns, m, m))
        for piece in range(count):
            block = orient(pieces[:, piece], int(self.orientation[piece]))
            grid[:, self.cell[piece]] = top - block if self.negated[piece] else block
        out = grid.reshape(n, rows, columns, m, m).transpose(0, 1, 3, 2, 4).reshape(n, rows * m, columns * m)
        return out[0] if single else out


def orient(blocks: np.ndarray, orientation: int) -> np.ndarray:
    """One of the 8 symmetries of the square on the last two axes: o % 4 quarter turns, then a mirror if o >= 4."""
    x = np.rot90(blocks, orientation % 4, axes=(-2, -1))
    return x[..., ::-1] if orientation >= 4 else x


def solve_block_jigsaw(pieces, rows: int, columns: int, *, orientations: int = 8, negatable: bool = True,
                       top: float = 255.0, seed: int = 0) -> JigsawSolution:
    """Place pieces seen in N images on a rows x columns grid; see the module docstring for the method.

    Args:
        pieces: float (N, P, M, M) (or (P, M, M) for one image), P == rows * columns: piece p
            is the same physical piece in every image.
        rows, columns: the frame in pieces.
        orientations: 8 (any symmetry of the square), 4 (rotations only) or 1 (upright).
        negatable: whether a piece may be negated (top - value).
        top: the value negation subtracts from (255 for bytes).
        seed: tie-breaking of the image subsample (results barely depend on it).

    Returns:
        A `JigsawSolution`; `solution.assemble(pieces, top)` gives the pictures, up to one
        global symmetry and (negatable pieces) one global polarity.
    """
    x = np.asarray(pieces, np.float64)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[2] != x.shape[3] or x.shape[0] == 0:
        raise ImageShapeError(f"Expected pieces (N, P, M, M), got shape {np.asarray(pieces).shape}.")
    if x.shape[1] != rows * columns:
        raise ImageShapeError(f"{x.shape[1]} pieces do not fill a {rows} x {columns} grid.")
    if orientations not in (1, 4, 8):
        raise ValueError(f"orientations must be 1, 4 or 8, not {orientations}.")
    count = x.shape[1]
    if count == 1:
        return JigsawSolution(np.zeros(1, int), np.zeros(1, int), np.zeros(1, bool), rows, columns)
    solver = _Solver(x, rows, columns, orientations, negatable, top, seed)
    return solver.solve()


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


_SIDE_OF, _COMPOSE, _MOVE = _tables()
# _PARTNER[d, j, f]: the orientation of a piece whose raw side j faces direction d, read backwards iff f.
_PARTNER = np.zeros((4, 4, 2), int)
for _o in range(8):
    for _d in range(4):
        _PARTNER[_d, _SIDE_OF[_o, _d, 0], _SIDE_OF[_o, _d, 1]] = _o
# _DIRECTION[o, i] = (direction, reversed) of raw side i under orientation o.
_DIRECTION = np.zeros((8, 4, 2), int)
for _o in range(8):
    for _d in range(4):
        _DIRECTION[_o, _SIDE_OF[_o, _d, 0]] = (_d, _SIDE_OF[_o, _d, 1])


# -- the solver ------------------------------------------------------------------------------


class _Solver:
    def __init__(self, x, rows, columns, orientations, negatable, top, seed):
        n, count, m, _ = x.shape
        self.rows, self.columns, self.count, self.m = rows, columns, count, m
        self.allowed = np.arange(8) < orientations  # 1: upright, 4: rotations, 8: all (each a group)
        self.negatable, self.top = negatable, top
        self.series = x.mean(axis=(2, 3))  # (N, P) brightness of every piece in every image
        if n > _MAX_IMAGES:  # the most varied images decide the most
            spread = x.reshape(n, -1).std(axis=1) + np.random.default_rng(seed).random(n) * 1e-6
            x = x[np.sort(np.argsort(-spread)[:_MAX_IMAGES])]
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
        if count <= _FULL_TABLE_PIECES:
            xs = self.X.reshape(4 * count, -1)
            self.full = np.stack([xs @ self.Y.reshape(4 * count, -1).T, xs @ self.Yr.reshape(4 * count, -1).T], -1)
        # Relations (side i of a, side j of b, reversed) allowed by the orientation group.
        self.relation_ok = np.zeros((4, 4, 2), bool)
        for oa in np.flatnonzero(self.allowed):
            for d in range(4):
                i, fa = _SIDE_OF[oa, d]
                for ob in np.flatnonzero(self.allowed):
                    j, fb = _SIDE_OF[ob, (d + 2) % 4]
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
        i, fa = _SIDE_OF[oa, d]
        c = self.cross(a, i, subset, coarse)
        table = self.coarse_const if coarse else self.const
        const = table if subset is None else table[subset]
        out = np.full((len(c), 16), np.inf)
        opposite = (d + 2) % 4
        for ob in np.flatnonzero(self.allowed):
            j, fb = _SIDE_OF[ob, opposite]
            dot = c[:, j, fa ^ fb]
            base = table[a, i] + const[:, j]
            out[:, ob + 8 * int(na)] = base - 2 * dot
            if self.negatable:
                out[:, ob + 8 * int(not na)] = base + 2 * dot
        return np.maximum(out, 0.0)

    def pair_cost(self, a, sa, b, sb, d) -> float:
        """Cost of piece b in state sb in direction d of piece a in state sa."""
        i, fa = _SIDE_OF[sa % 8, d]
        j, fb = _SIDE_OF[sb % 8, (d + 2) % 4]
        if self.full is not None:
            dot = self.full[4 * a + i, 4 * b + j, fa ^ fb]
        else:
            dot = float(self.X[a, i] @ (self.Yr if fa ^ fb else self.Y)[b, j])
        sign = 1.0 if (sa >= 8) == (sb >= 8) else -1.0
        return max(self.const[a, i] + self.const[b, j] - 2 * sign * dot, 0.0)

    # - steps -

    def solve(self) -> JigsawSolution:
        edges = self.candidate_edges()
        orders = [edges]
        if self.full is not None and self.count <= 256:
            # Small problems: also assemble along the matches in order of their plain cost, and keep the
            # arrangement with the lower total edge cost (the attacker's own criterion).
            raw = self.raw_cost[np.argsort(edges[:, 0], kind="stable")]
            orders.append(edges[np.argsort(raw, kind="stable")])
        best = None
        for ordered in orders:
            placed = self.refine(self.grow(self.merge_clusters(self.kruskal(ordered))))
            cost = self.arrangement_cost(placed)
            if best is None or cost < best[0]:
                best = (cost, placed)
        placed = best[1]
        cell = np.zeros(self.count, int)
        orientation = np.zeros(self.count, int)
        negated = np.zeros(self.count, bool)
        for (r, c), (piece, state) in placed.items():
            cell[piece] = r * self.columns + c
            orientation[piece] = state % 8
            negated[piece] = state >= 8
        return JigsawSolution(cell, orientation, negated, self.rows, self.columns)

    def candidate_edges(self) -> np.ndarray:
        """Rows (normalised cost, a, i, b, j, reversed, opposite polarity) of every side's best few matches, surest first."""
        count = self.count
        pruned = self.full is None and len(self.series) >= _PRUNE_IMAGES
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

    def fits(self, height: int, width: int) -> bool:
        if height <= self.rows and width <= self.columns:
            return True
        return bool(self.allowed[1]) and height <= self.columns and width <= self.rows

    def kruskal(self, edges) -> dict:
        """Join pieces along the most confident matches; returns the largest cluster {(r, c): (piece, state)}."""
        pose = [(0, 0, 0, False) for _ in range(self.count)]  # row, column, orientation, negated in its cluster
        owner = list(range(self.count))
        members = {p: [p] for p in range(self.count)}
        cells = {p: {(0, 0)} for p in range(self.count)}
        box = {p: (0, 0, 0, 0) for p in range(self.count)}  # top, bottom, left, right
        for _, a, i, b, j, rev, flip in edges.astype(int).tolist():
            if owner[a] == owner[b]:
                continue
            if len(members[owner[a]]) < len(members[owner[b]]):  # move the smaller cluster
                a, i, b, j = b, j, a, i
            ca, cb = owner[a], owner[b]
            ra, col_a, oa, na = pose[a]
            d, fa = _DIRECTION[oa, i]
            target = (ra + _STEPS[d][0], col_a + _STEPS[d][1], int(_PARTNER[(d + 2) % 4, j, fa ^ rev]), na ^ bool(flip))
            if not self.allowed[target[2]]:
                continue
            # The symmetry g that turns b's current pose into the target, applied to b's whole cluster.
            rb, col_b, ob, nb = pose[b]
            g = int(np.flatnonzero(_COMPOSE[ob] == target[2])[0])
            (m00, m01), (m10, m11) = _MOVE[g].tolist()
            moved = {}
            top, bottom, left, right = box[ca]
            collision = False
            for p in members[cb]:
                r, c, o, neg = pose[p]
                dr, dc = r - rb, c - col_b
                value = (target[0] + m00 * dr + m01 * dc, target[1] + m10 * dr + m11 * dc, int(_COMPOSE[o, g]),
                         neg ^ (nb != target[3]))
                if (value[0], value[1]) in cells[ca]:
                    collision = True
                    break
                moved[p] = value
                top, bottom = min(top, value[0]), max(bottom, value[0])
                left, right = min(left, value[1]), max(right, value[1])
            if collision or not self.fits(bottom - top + 1, right - left + 1):
                continue
            for p, value in moved.items():
                pose[p] = value
                owner[p] = ca
                cells[ca].add((value[0], value[1]))
            box[ca] = (top, bottom, left, right)
            members[ca].extend(members.pop(cb))
            del cells[cb], box[cb]
        clusters = sorted(members.values(), key=len, reverse=True)
        return [{(pose[p][0], pose[p][1]): (p, pose[p][2] + 8 * int(pose[p][3])) for p in group} for group in clusters]

    def merge_clusters(self, clusters: list) -> dict:
        """Set whole clusters against the largest, each in its best symmetry, polarity and offset (small problems).

        Kruskal stops where a cluster would overlap or overflow the frame, which leaves a few large, right
        clusters misplaced against each other (a picture cut in two and swapped, or one part mirrored);
        moving whole clusters mends that where moving single pieces cannot.
        """
        main = dict(clusters[0])
        if self.full is None or self.count > 256:
            return main
        for cluster in clusters[1:]:
            if len(cluster) < 2:
                break
            best = None
            rows = [r for r, _ in main]
            cols = [c for _, c in main]
            for g in np.flatnonzero(self.allowed):
                (m00, m01), (m10, m11) = _MOVE[g].tolist()
                for flip in (False, True) if self.negatable else (False,):
                    turned = {(m00 * r + m01 * c, m10 * r + m11 * c): (p, int(_COMPOSE[s % 8, g]) + 8 * ((s >= 8) ^ flip))
                              for (r, c), (p, s) in cluster.items()}
                    t_rows = [r for r, _ in turned]
                    t_cols = [c for _, c in turned]
                    for dr in range(max(rows) - self.rows + 1 - min(t_rows), min(rows) + self.rows - max(t_rows)):
                        for dc in range(max(cols) - self.columns + 1 - min(t_cols), min(cols) + self.columns - max(t_cols)):
                            shifted = {(r + dr, c + dc): v for (r, c), v in turned.items()}
                            if any(cell in main for cell in shifted):
                                continue
                            all_rows = rows + [r for r, _ in shifted]
                            all_cols = cols + [c for _, c in shifted]
                            if max(all_rows) - min(all_rows) >= self.rows or max(all_cols) - min(all_cols) >= self.columns:
                                continue
                            total, touching = 0.0, 0
                            for (r, c), (p, s) in shifted.items():
                                for d, (sr, sc) in enumerate(_STEPS):
                                    other = main.get((r + sr, c + sc))
                                    if other is not None:
                                        total += self.pair_cost(p, s, other[0], other[1], d)
                                        touching += 1
                            if touching and (best is None or total / touching < best[0]):
                                best = (total / touching, shifted)
            if best is not None:
                main.update(best[1])
        return main

    def grow(self, cluster: dict) -> dict:
        """Set the cluster in the frame and fill the rest, surest cell first."""
        rs = [r for r, _ in cluster]
        cs = [c for _, c in cluster]
        if max(rs) - min(rs) + 1 > self.rows or max(cs) - min(cs) + 1 > self.columns:  # turn it a quarter
            g = 1
            cluster = {tuple(int(v) for v in _MOVE[g] @ np.array(cell)): (p, int(_COMPOSE[s % 8, g]) + 8 * (s >= 8))
                       for cell, (p, s) in cluster.items()}
        placed = dict(cluster)
        used = np.zeros(self.count, bool)
        for p, _ in placed.values():
            used[p] = True
        frontier: dict = {}  # empty cell -> number of placed neighbours
        best: dict = {}  # empty cell -> (normalised cost, piece, state), while valid

        def evaluate(cell):
            """The best free piece-state for a cell against its placed neighbours, and how clearly it wins."""
            facing = []
            for d, (dr, dc) in enumerate(_STEPS):
                other = placed.get((cell[0] - dr, cell[1] - dc))  # the neighbour that has this cell in direction d
                if other is not None:
                    facing.append((other[0], other[1], d))
            free = np.flatnonzero(~used)
            if self.partners is not None:  # large problems: only the neighbours' best matches are candidates
                near = np.unique(np.concatenate([self.partners[a, _SIDE_OF[s % 8, d][0]] for a, s, d in facing]))
                near = near[~used[near]]
                if len(near):
                    free = near
                elif len(free) > 64:  # all taken: rank the free pieces on a few images, keep the best
                    rough = sum(self.contribution(a, s % 8, s >= 8, d, free, coarse=True) for a, s, d in facing)
                    free = free[np.argsort(rough.min(axis=1))[:32]]
            total = sum(self.contribution(a, s % 8, s >= 8, d, free) for a, s, d in facing)
            per_piece = total.min(axis=1)
            order = np.argsort(per_piece)[:2]
            first = per_piece[order[0]]
            second = per_piece[order[1]] if len(order) > 1 else first + self.scale
            return (first / max(second, 1e-9 * self.scale), int(free[order[0]]), int(np.argmin(total[order[0]])))

        def add(cell):
            for dr, dc in _STEPS:
                target = (cell[0] + dr, cell[1] + dc)
                if target not in placed:
                    frontier[target] = frontier.get(target, 0) + 1
                    best.pop(target, None)

        for cell in list(placed):
            add(cell)
        rs = [r for r, _ in placed]
        cs = [c for _, c in placed]
        top_r, bottom_r, left_c, right_c = min(rs), max(rs), min(cs), max(cs)
        while len(placed) < self.count:
            choice = None
            for cell, count in frontier.items():
                r, c = cell
                if (max(bottom_r, r) - min(top_r, r) >= self.rows) or (max(right_c, c) - min(left_c, c) >= self.columns):
                    continue
                if choice is not None and count < -choice[0][0]:
                    continue
                entry = best.get(cell)
                if entry is None or used[entry[1]]:
                    entry = best[cell] = evaluate(cell)
                key = (-count, entry[0])
                if choice is None or key < choice[0]:
                    choice = (key, cell, entry[1], entry[2])
            _, cell, piece, state = choice
            placed[cell] = (piece, state)
            top_r, bottom_r = min(top_r, cell[0]), max(bottom_r, cell[0])
            left_c, right_c = min(left_c, cell[1]), max(right_c, cell[1])
            used[piece] = True
            del frontier[cell]
            best.pop(cell, None)
            add(cell)
        top_r = min(r for r, _ in placed)
        left_c = min(c for _, c in placed)
        return {(r - top_r, c - left_c): value for (r, c), value in placed.items()}

    def local_costs(self, grid: np.ndarray, states: np.ndarray) -> np.ndarray:
        """(P pieces, cells) of the best-state cost of each piece at each cell against the current neighbours."""
        out = np.zeros((self.count, self.rows * self.columns))
        for cell in range(self.rows * self.columns):
            r, c = divmod(cell, self.columns)
            total = np.zeros((self.count, 16))
            for d, (dr, dc) in enumerate(_STEPS):
                rr, cc = r - dr, c - dc  # the neighbour that has this cell in direction d
                if 0 <= rr < self.rows and 0 <= cc < self.columns:
                    other = rr * self.columns + cc
                    total += self.contribution(grid[other], states[other] % 8, states[other] >= 8, d)
            out[:, cell] = total.min(axis=1)
        return out

    def best_roll(self, grid: np.ndarray, states: np.ndarray):
        """The cyclic shift of rows and columns with the lowest total cost.

        Picture borders often look alike (backgrounds), so the assembly can join the right border to the
        left one and cut the picture elsewhere; a roll of the grid mends that.
        """
        def rolled(values, dr, dc):
            return np.roll(values.reshape(self.rows, self.columns), (dr, dc), axis=(0, 1)).ravel()

        best = (self.total_cost(grid, states), 0, 0)
        if self.count <= 256:
            shifts = [(dr, dc) for dr in range(self.rows) for dc in range(self.columns)]
        else:  # large frames: each axis on its own
            shifts = [(dr, 0) for dr in range(self.rows)] + [(0, dc) for dc in range(self.columns)]
        for dr, dc in shifts:
            if dr or dc:
                cost = self.total_cost(rolled(grid, dr, dc), rolled(states, dr, dc))
                if cost < best[0]:
                    best = (cost, dr, dc)
        return rolled(grid, best[1], best[2]), rolled(states, best[1], best[2])

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

    def best_states(self, grid: np.ndarray, states: np.ndarray) -> np.ndarray:
        """Each piece's orientation and polarity re-chosen against its neighbours, until none changes."""
        states = states.copy()
        for _ in range(4):
            changed = False
            for cell in range(self.rows * self.columns):
                r, c = divmod(cell, self.columns)
                total = np.zeros(16)
                for d, (dr, dc) in enumerate(_STEPS):
                    rr, cc = r - dr, c - dc
                    if 0 <= rr < self.rows and 0 <= cc < self.columns:
                        other = rr * self.columns + cc
                        total += self.contribution(grid[other], states[other] % 8, states[other] >= 8, d, grid[cell:cell + 1])[0]
                choice = int(np.argmin(total))
                if total[choice] < total[states[cell]] - 1e-9:
                    states[cell], changed = choice, True
            if not changed:
                break
        return states

    def refine(self, placed: dict) -> dict:
        cells = self.rows * self.columns
        grid = np.zeros(cells, int)
        states = np.zeros(cells, int)
        for (r, c), (piece, state) in placed.items():
            grid[r * self.columns + c], states[r * self.columns + c] = piece, state
        previous = np.inf
        for _ in range(3 if self.count <= 256 else 1):  # rolls and swaps in turn, while they help
            grid, states = self.best_roll(grid, states)
            states = self.best_states(grid, states)
            if self.full is not None and self.count <= 256:
                current = self.total_cost(grid, states)
                for _ in range(2 * self.count):
                    local = self.local_costs(grid, states)
                    here = local[grid, np.arange(cells)]
                    theirs = local[grid]  # theirs[y, x]: the piece now at y, put at x
                    delta = theirs.T + theirs - here[:, None] - here[None, :]
                    np.fill_diagonal(delta, np.inf)
                    improved = False
                    for flat in np.argsort(delta, axis=None)[:8]:
                        x, y = np.unravel_index(flat, delta.shape)
                        if delta[x, y] >= -1e-9 * self.scale:
                            break
                        trial_grid = grid.copy()
                        trial_grid[[x, y]] = trial_grid[[y, x]]
                        trial_states = states.copy()
                        trial_states[[x, y]] = trial_states[[y, x]]
                        trial_states = self.best_states(trial_grid, trial_states)
                        cost = self.total_cost(trial_grid, trial_states)
                        if cost < current - 1e-9 * self.scale:
                            grid, states, current, improved = trial_grid, trial_states, cost, True
                            break
                    if not improved:
                        break
            cost = self.total_cost(grid, states)
            if cost >= previous - 1e-9 * self.scale:
                break
            previous = cost
        return {divmod(cell, self.columns): (int(grid[cell]), int(states[cell])) for cell in range(cells)}
