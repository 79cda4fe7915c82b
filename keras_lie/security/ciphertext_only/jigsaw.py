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
   prediction-based cost of `etc._edge_cost`). Expanded, the cost is two norms
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

Steps 1 to 3 are `jigsaw_costs.EdgeCosts`, the base of the solver here; 4 to 6 are the solver.

What the pieces cannot decide: one symmetry of the whole picture (8, or fewer for a
non-square frame) and, with negatable pieces, one global polarity.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_lie.errors import ImageShapeError
from keras_lie.security.ciphertext_only.jigsaw_costs import COMPOSE, DIRECTION, MOVE, PARTNER, SIDE_OF, STEPS, EdgeCosts
from keras_lie.security.geometry import orient


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


# -- the solver ------------------------------------------------------------------------------


class _Solver(EdgeCosts):
    """The assembly (steps 4 to 6 of the method) on the edge costs of `jigsaw_costs.EdgeCosts`."""

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
            d, fa = DIRECTION[oa, i]
            target = (ra + STEPS[d][0], col_a + STEPS[d][1], int(PARTNER[(d + 2) % 4, j, fa ^ rev]), na ^ bool(flip))
            if not self.allowed[target[2]]:
                continue
            # The symmetry g that turns b's current pose into the target, applied to b's whole cluster.
            rb, col_b, ob, nb = pose[b]
            g = int(np.flatnonzero(COMPOSE[ob] == target[2])[0])
            (m00, m01), (m10, m11) = MOVE[g].tolist()
            moved = {}
            top, bottom, left, right = box[ca]
            collision = False
            for p in members[cb]:
                r, c, o, neg = pose[p]
                dr, dc = r - rb, c - col_b
                value = (target[0] + m00 * dr + m01 * dc, target[1] + m10 * dr + m11 * dc, int(COMPOSE[o, g]),
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
                (m00, m01), (m10, m11) = MOVE[g].tolist()
                for flip in (False, True) if self.negatable else (False,):
                    turned = {(m00 * r + m01 * c, m10 * r + m11 * c): (p, int(COMPOSE[s % 8, g]) + 8 * ((s >= 8) ^ flip))
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
                                for d, (sr, sc) in enumerate(STEPS):
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
            cluster = {tuple(int(v) for v in MOVE[g] @ np.array(cell)): (p, int(COMPOSE[s % 8, g]) + 8 * (s >= 8))
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
            for d, (dr, dc) in enumerate(STEPS):
                other = placed.get((cell[0] - dr, cell[1] - dc))  # the neighbour that has this cell in direction d
                if other is not None:
                    facing.append((other[0], other[1], d))
            free = np.flatnonzero(~used)
            if self.partners is not None:  # large problems: only the neighbours' best matches are candidates
                near = np.unique(np.concatenate([self.partners[a, SIDE_OF[s % 8, d][0]] for a, s, d in facing]))
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
            for dr, dc in STEPS:
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

    def best_states(self, grid: np.ndarray, states: np.ndarray) -> np.ndarray:
        """Each piece's orientation and polarity re-chosen against its neighbours, until none changes."""
        states = states.copy()
        for _ in range(4):
            changed = False
            for cell in range(self.rows * self.columns):
                r, c = divmod(cell, self.columns)
                total = np.zeros(16)
                for d, (dr, dc) in enumerate(STEPS):
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
