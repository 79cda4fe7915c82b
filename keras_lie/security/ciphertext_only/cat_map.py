"""Ciphertext-only attack on the combined Arnold cat map (`keras_lie.schemes.cat_map`).

Threat model: the attacker holds many images encrypted under one unknown cat-map
key and knows the scheme (no key, no plain image). The maps are linear, and that
structure gives every grey image back exactly from a handful of ciphertexts.

Why it breaks. On the square of even side s (h = s/2), an encrypted position c
takes its pixel from W = A c mod s (the whole-square map A, determinant 1); W mod 2
names the plain quadrant and W // 2 the spot inside it, which the quadrant's own
map Q moves linearly mod h. Writing c = c0 + 2u with c0 = c mod 2:

- the parity class c0 of an encrypted position names its quadrant (A mod 2 is
  invertible: the four classes go to the four quadrants, in an unknown order);
- inside a class, the plain position is p = p0 + M u mod h with M = Q A mod h
  (determinant 1), so one step right or down in the plain quadrant is ONE fixed
  offset M^-1 e on the class's h x h torus of positions u;
- the per-pixel channel rotation keeps each pixel's channel mean, so the grey value
  of every encrypted position is exactly one plain pixel's grey value.

Method:

1. Grey values (channel means) of the encrypted square, split into the four parity
   classes, each an h x h torus.
2. Per class, the cyclic autocorrelation summed over the images (2-D FFTs) peaks at
   the two offsets that are the plain steps right and down (and their negatives);
   the pair of strong offsets that generates the torus (determinant a unit mod h)
   with the largest summed correlation is taken.
3. Laying the class out along those two offsets gives the quadrant up to one of 8
   symmetries and a cyclic shift. The cut belongs where the wrap-around join of rows
   (columns) is least smooth (the quadrant's far edges meet there): the 3 roughest
   joins per axis (relative to the joins beside them) are kept as candidate cuts.
4. The four quadrant pictures are assembled with the smallest total of squared
   differences over every neighbouring pair of the square: the inner seams between
   quadrants plus the joins each cut leaves inside its quadrant (the torus's joins
   minus the one opened). The search is exact over all 24 assignments of classes to
   quadrants, 8 orientations and 9 cuts of each (the seams form a cycle, so a
   min-plus product over the two corners not fixed does it). The whole square keeps
   one global symmetry open; for a non-square image the pixels outside the square
   are not moved by the scheme, and the symmetry whose edges continue them best is
   taken, which leaves no symmetry open.
5. Colour: an encrypted pixel's channels are rotated by an unknown amount (mod C)
   per position. With the layout known, each pair of neighbours gets the cost of
   every relative rotation (channel differences summed over the images); the
   rotations are propagated along a maximum-confidence spanning tree (Prim) and
   refined by iterated conditional modes, leaving one global cyclic channel order
   open. `colour` is set only where 95% of the neighbour pairs prefer one
   relative rotation clearly (by 5% of the cost) and 99.5% of those agree with the
   rotations found (on 32 x 32 CIFAR-10 this rejects the single images and pairs
   whose rotations are partly wrong and accepts every exact case seen).

Every choice uses the attacker's own criteria on the ciphertexts; no plain image is
used, and the attack commutes with the key's linear relabelling of positions, so its
success depends on the images, not on the key. Measured on 32 x 32 CIFAR-10 test
images and fresh keys: the grey images (and the colours, up to the channel order)
come back exactly in 26% of single images, 77% of pairs, 91% of triples, 98% of sets
of 5 and every set of 10 or more; at 224 x 224 from 1,000 images in about 40 s on
one core.
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np

from keras_lie.errors import ImageShapeError
from keras_lie.security.geometry import orient
from keras_lie.security.result import Reconstruction, encrypted_batch

_CANDIDATES = 16  # strongest autocorrelation offsets (up to sign) tried as the torus's generators
_CUTS = 3  # most likely cuts per axis and class, decided jointly with the seams
_SEAM_IMAGES = 256  # images used for the seam tables (10 already give the exact layout on CIFAR-10)
_CHUNK = 64  # images per FFT chunk (bounds memory at 224 x 224)
_ICM_SWEEPS = 20  # checkerboard sweeps of the colour-rotation refinement
_COLOUR_MARGIN = 0.05  # relative margin of the best relative rotation over the second that makes a pair "clear"
_COLOUR_CLEAR_SHARE = 0.95  # share of clear neighbour pairs needed to call the colours recovered
_COLOUR_AGREEMENT = 0.995  # share of clear pairs that must agree with the rotations found


def reconstruct_cat_map(encrypted_images, *, seed: int = 0) -> Reconstruction:
    """Rebuild images encrypted with one unknown cat-map key, from the ciphertexts alone.

    Args:
        encrypted_images: uint8 (N, H, W, C) or (H, W, C), all under the same key,
            min(H, W) >= 2.
        seed: accepted for the common signature of the attacks; the attack is deterministic.

    Returns:
        A `Reconstruction` with `images` (N, H, W, C) float in 0..255 (the same
        polarity in `inverted`; the cat map has no inversion), 256 levels, and
        `colour` True where the per-pixel channel rotations were recovered (up to
        one global channel order), else the grey picture in every channel.

    Raises:
        ImageShapeError: for a shape other than (N, H, W, C) / (H, W, C) with min(H, W) >= 2.
    """
    del seed
    x = encrypted_batch(encrypted_images)
    if min(x.shape[1], x.shape[2]) < 2:
        raise ImageShapeError(f"Expected encrypted images (N, H, W, C) with H, W >= 2, got shape "
                              f"{np.asarray(encrypted_images).shape}.")
    source = recover_layout(x)  # (H, W): flat encrypted position shown at each plain position
    n, height, width, channels = x.shape
    flat = x.reshape(n, height * width, channels)
    moved = flat[:, source.ravel()].astype(np.float64)  # (N, H*W, C), channels still rotated
    side = (min(height, width) // 2) * 2
    ambiguities = ["global symmetry of the square (one of 8 rotations / mirrors)" if side == max(height, width)
                   else "none spatially (the unmoved pixels outside the square fix the orientation)"]
    if channels == 1:  # nothing to rotate: the grey values are the image
        images = moved.reshape(n, height, width, 1)
        return Reconstruction(images=images, inverted=images, ambiguities=tuple(ambiguities), levels=256, colour=True)
    rotation, colour = recover_channel_rotations(moved.reshape(n, height, width, channels))
    if colour:
        columns = (np.arange(channels)[None, :] - rotation.reshape(-1, 1)) % channels  # plain channel k sits there
        images = np.take_along_axis(moved, np.broadcast_to(columns[None], moved.shape), axis=2)
        ambiguities.append("channel order (one of C cyclic rotations)")
    else:
        images = np.repeat(moved.mean(axis=2, keepdims=True), channels, axis=2)
        ambiguities.append("colour (only the grey picture is recovered)")
    images = images.reshape(n, height, width, channels)
    return Reconstruction(images=images, inverted=images, ambiguities=tuple(ambiguities), levels=256,
                          colour=colour)


def recover_layout(encrypted: np.ndarray) -> np.ndarray:
    """The spatial layout: for every plain position, the flat encrypted position (row * W + column) it came from.

    Args:
        encrypted: uint8 (N, H, W, C), one key.

    Returns:
        int (H, W); positions outside the square are their own source.
    """
    n, height, width, _ = encrypted.shape
    side = (min(height, width) // 2) * 2
    grey = encrypted.mean(axis=-1, dtype=np.float32)  # channel rotation keeps the mean
    flat_index = np.arange(height * width).reshape(height, width)
    pieces, indices, priors = [], [], []
    for a, b in itertools.product(range(2), range(2)):
        values = np.ascontiguousarray(grey[:, a:side:2, b:side:2])  # (N, h, h): the class's torus of positions u
        for layout, prior in _class_layouts(values):  # (h, h, 2): torus position u shown at each spot
            pieces.append(values[:_SEAM_IMAGES, layout[..., 0], layout[..., 1]])
            indices.append(flat_index[a + 2 * layout[..., 0], b + 2 * layout[..., 1]])
            priors.append((len(indices) - 1, a * 2 + b, prior))
    square_index = _assemble(pieces, indices, priors)
    source = flat_index.copy()
    if side < max(height, width):
        square_index = _orient_to_border(grey, square_index, side)
    source[:side, :side] = square_index
    return source


def _class_layouts(values: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Lay one parity class out as a picture, up to a symmetry: candidate cuts and their cost.

    Returns (layout (h, h, 2) torus coordinates, cost) pairs, one for each of the
    `_CUTS` x `_CUTS` most likely cuts; the cost is minus the squared differences
    across the two wrap-around joins the cut opens (the interior of the quadrant
    keeps every other join, so opening the roughest joins is cheapest).
    """
    half = values.shape[1]
    if half == 1:
        return [(np.zeros((1, 1, 2), np.int64), 0.0)]
    correlation = _autocorrelation(values)
    first, second = _generators(correlation)
    i, j = np.meshgrid(np.arange(half), np.arange(half), indexing="ij")
    layout = (i[..., None] * first + j[..., None] * second) % half
    picture = values[:, layout[..., 0], layout[..., 1]].astype(np.float64)
    rows, row_steps = _join_costs(picture)
    columns, column_steps = _join_costs(picture.transpose(0, 2, 1))
    # The quadrant's opposite edges meet at the least smooth wrap-around join: cut there.
    row_cuts = np.argsort(rows)[::-1][:_CUTS]
    column_cuts = np.argsort(columns)[::-1][:_CUTS]
    return [(np.roll(layout, (-(r + 1), -(c + 1)), axis=(0, 1)), -float(row_steps[r] + column_steps[c]))
            for r in row_cuts for c in column_cuts]


def _autocorrelation(values: np.ndarray) -> np.ndarray:
    """Cyclic autocorrelation (h, h) of the per-image-centred values, summed over images."""
    half = values.shape[1]
    power = np.zeros((half, half // 2 + 1))
    for start in range(0, len(values), _CHUNK):
        chunk = values[start:start + _CHUNK].astype(np.float64)
        chunk = chunk - chunk.mean(axis=(1, 2), keepdims=True)
        power += (np.abs(np.fft.rfft2(chunk)) ** 2).sum(axis=0)
    return np.fft.irfft2(power, s=(half, half))


def _generators(correlation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two offsets of the torus that are the plain steps: strong correlation, generating the torus."""
    half = correlation.shape[0]
    order = np.argsort(correlation.ravel())[::-1]
    candidates: list[np.ndarray] = []
    for flat in order:
        d = np.array(divmod(int(flat), half))
        if not d.any() or any(((d + c) % half == 0).all() for c in candidates):
            continue  # zero, or the negative of one already taken
        candidates.append(d)
        if len(candidates) == _CANDIDATES:
            break
    best, best_score = (candidates[0], candidates[-1]), -np.inf
    for first, second in itertools.combinations(candidates, 2):
        determinant = int(first[0] * second[1] - first[1] * second[0]) % half
        if np.gcd(determinant, half) != 1:
            continue
        score = correlation[tuple(first)] + correlation[tuple(second)]
        if score > best_score:
            best, best_score = (first, second), score
    return best


def _join_costs(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row i of pictures (N, h, h): how unlike row i + 1 (cyclically) it is, relative to its neighbours.

    The difference across a join, divided by the typical difference across the joins
    on either side of it plus the mean join (a floor, so that flat or blocky stretches
    do not make every small step look like the cut), and the plain sums of squared differences.
    """
    squared = ((np.roll(picture, -1, axis=1) - picture) ** 2).sum(axis=(0, 2))  # join i -> i + 1
    step = np.sqrt(squared)
    around = (np.roll(step, 1) + np.roll(step, -1)) / 2
    return step / (around + step.mean() + 1e-9), squared


_SYMMETRIES = 8  # of the square (`geometry.orient`)


def _assemble(pieces: list[np.ndarray], indices: list[np.ndarray], priors: list[tuple[int, int, float]]) -> np.ndarray:
    """Place four quadrant pictures (N, h, h), one cut of each class, with the best inner seams plus cut costs.

    Returns the square's index (s, s). The seams form a cycle TL-TR-BR-BL, so for
    fixed top-left and bottom-right pieces the other two are chosen independently
    (a min-plus product), which keeps the search exact over every assignment of
    classes to quadrants, every orientation and every candidate cut.
    """
    # A few hundred images decide the seams beyond doubt; more only cost time at large sizes.
    oriented = [orient(p, o) for p in pieces for o in range(_SYMMETRIES)]  # piece k * 8 + o
    right = np.stack([p[:, :, -1] for p in oriented], axis=1)  # (N, P, h)
    left = np.stack([p[:, :, 0] for p in oriented], axis=1)
    bottom = np.stack([p[:, -1, :] for p in oriented], axis=1)
    top = np.stack([p[:, 0, :] for p in oriented], axis=1)
    across = _seam_costs(right, left)  # [a, b]: a left of b
    down = _seam_costs(bottom, top)  # [a, b]: a above b
    unary = np.repeat([prior for _, _, prior in priors], _SYMMETRIES)
    group = np.repeat([k for _, k, _ in priors], _SYMMETRIES)
    members = [np.flatnonzero(group == k) for k in range(4)]
    best, best_cost = None, np.inf
    for classes in itertools.permutations(range(4)):  # classes at top-left, top-right, bottom-left, bottom-right
        tl, tr, bl, br = (members[k] for k in classes)
        via_tr = across[np.ix_(tl, tr)][:, :, None] + (unary[tr][:, None] + down[np.ix_(tr, br)])[None]
        via_bl = down[np.ix_(tl, bl)][:, :, None] + (unary[bl][:, None] + across[np.ix_(bl, br)])[None]
        cost = unary[tl][:, None] + unary[br][None, :] + via_tr.min(axis=1) + via_bl.min(axis=1)
        i, j = np.unravel_index(int(np.argmin(cost)), cost.shape)
        if cost[i, j] < best_cost:
            best_cost = cost[i, j]
            best = (tl[i], tr[via_tr[i, :, j].argmin()], bl[via_bl[i, :, j].argmin()], br[j])
    placed = [orient(indices[p // _SYMMETRIES], p % _SYMMETRIES) for p in best]
    return np.block([[placed[0], placed[1]], [placed[2], placed[3]]])


def _seam_costs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Sum of squared differences between edge lines (N, P, h) of every ordered pair of pieces: (P, P)."""
    a = first.astype(np.float64).transpose(1, 0, 2).reshape(first.shape[1], -1)
    b = second.astype(np.float64).transpose(1, 0, 2).reshape(second.shape[1], -1)
    return (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T


def _orient_to_border(grey: np.ndarray, square_index: np.ndarray, side: int) -> np.ndarray:
    """The symmetry of the square whose edges best continue the unmoved pixels beyond it."""
    n, height, width = grey.shape
    flat = grey.reshape(n, -1)
    best, best_cost = square_index, np.inf
    for which in range(_SYMMETRIES):
        candidate = orient(square_index, which)
        cost = 0.0
        if width > side:
            cost += ((flat[:, candidate[:, -1]] - grey[:, :side, side]) ** 2).mean()
        if height > side:
            cost += ((flat[:, candidate[-1, :]] - grey[:, side, :side]) ** 2).mean()
        if cost < best_cost:
            best, best_cost = candidate, cost
    return best


def recover_channel_rotations(moved: np.ndarray) -> tuple[np.ndarray, bool]:
    """Per-pixel channel rotations of images whose pixels are in place but channels rotated.

    Args:
        moved: float (N, H, W, C): `moved[n, y, x, k]` is channel (k + r[y, x]) mod C of
            the plain pixel (y, x) for an unknown r, up to one global rotation.

    Returns:
        r: int (H, W), the rotation of every pixel up to one global constant, and
        whether the neighbours' relative rotations were confident enough to trust
        the colours.
    """
    n, height, width, channels = moved.shape
    flat = moved.reshape(n, height * width, channels)
    position = np.arange(height * width).reshape(height, width)
    pairs = np.concatenate([np.stack([position[:, :-1].ravel(), position[:, 1:].ravel()], 1),
                            np.stack([position[:-1, :].ravel(), position[1:, :].ravel()], 1)])
    costs = _relative_rotation_costs(flat, pairs)  # (E, C): cost of r_q - r_p = t
    sorted_costs = np.sort(costs, axis=1)
    margin = (sorted_costs[:, 1] - sorted_costs[:, 0]) / (sorted_costs[:, 1] + 1e-9)
    relative = np.argmin(costs, axis=1)
    # Propagate along the most confident edges first (Prim's maximum spanning tree of the margins).
    size = height * width
    neighbours: list[list[tuple[int, int, int]]] = [[] for _ in range(size)]  # (node, edge, sign)
    for e, (p, q) in enumerate(pairs):
        neighbours[p].append((int(q), e, 1))
        neighbours[q].append((int(p), e, -1))
    rotation = np.zeros(size, np.int64)
    done = np.zeros(size, bool)
    done[0] = True
    heap = [(-margin[e], node, e, sign, 0) for node, e, sign in neighbours[0]]
    heapq.heapify(heap)
    while heap:
        _, node, e, sign, parent = heapq.heappop(heap)
        if done[node]:
            continue
        done[node] = True
        rotation[node] = (rotation[parent] + sign * relative[e]) % channels
        for other, f, other_sign in neighbours[node]:
            if not done[other]:
                heapq.heappush(heap, (-margin[f], other, f, other_sign, node))
    rotation = _refine_rotations(rotation.reshape(height, width), costs, pairs, channels)
    # Trust the colours where the clear neighbour pairs (most of them) all agree with the rotations found:
    # wrong rotations (or a wrong layout) leave some clear pairs preferring another relative rotation.
    clear = margin > _COLOUR_MARGIN
    agrees = relative == (rotation.ravel()[pairs[:, 1]] - rotation.ravel()[pairs[:, 0]]) % channels
    confident = bool(clear.mean() >= _COLOUR_CLEAR_SHARE and agrees[clear].mean() >= _COLOUR_AGREEMENT)
    return rotation, confident


def _relative_rotation_costs(flat: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """For each neighbour pair (p, q): sum over images and channels of (plain p - plain q)^2 if r_q - r_p = t."""
    channels = flat.shape[2]
    costs = np.zeros((len(pairs), channels))
    for start in range(0, len(pairs), 4096):
        p, q = pairs[start:start + 4096, 0], pairs[start:start + 4096, 1]
        a, b = flat[:, p], flat[:, q]  # (N, E, C)
        for t in range(channels):
            # plain channel j of p is a[..., j - r_p]; of q is b[..., j - r_q] = b[..., (k - t)] with k = j - r_p
            costs[start:start + 4096, t] = ((a - np.roll(b, t, axis=2)) ** 2).sum(axis=(0, 2))
    return costs


def _refine_rotations(rotation: np.ndarray, costs: np.ndarray, pairs: np.ndarray, channels: int) -> np.ndarray:
    """Iterated conditional modes on a checkerboard: each pixel takes the rotation its neighbours agree on."""
    height, width = rotation.shape
    flat = rotation.ravel().copy()
    size = height * width
    parity = (np.arange(size) // width + np.arange(size) % width) % 2
    candidates = np.arange(channels)
    for _ in range(_ICM_SWEEPS):
        changed = False
        for colour in (0, 1):
            total = np.zeros((size, channels))
            # Edge (p, q) with relative t = r_q - r_p costs costs[e, t].
            t_for_p = (flat[pairs[:, 1]][:, None] - candidates[None, :]) % channels  # r_p = candidate
            np.add.at(total, pairs[:, 0], np.take_along_axis(costs, t_for_p, axis=1))
            t_for_q = (candidates[None, :] - flat[pairs[:, 0]][:, None]) % channels  # r_q = candidate
            np.add.at(total, pairs[:, 1], np.take_along_axis(costs, t_for_q, axis=1))
            update = parity == colour
            new = np.argmin(total, axis=1)
            keep = total[np.arange(size), flat] <= total[np.arange(size), new]  # no change on ties
            new = np.where(keep, flat, new)
            changed |= bool((new[update] != flat[update]).any())
            flat[update] = new[update]
        if not changed:
            break
    return flat.reshape(height, width)
