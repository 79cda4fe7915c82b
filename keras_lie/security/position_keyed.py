"""Attacks on the position-keyed schemes (ELE, EtC): every block position has its own key.

Threat models, as for the other schemes (`ciphertext_only`, `known_plaintext`,
`chosen_plaintext`): the attacker knows the scheme, block size and image size.

- Chosen plaintext (`recover_map_chosen_plaintext`): the attacker has images of
  its choice encrypted (a camera it can point at a screen). Each byte (EtC) or
  nibble (ELE) of a probe image carries a code across a few probe images; the
  code of each encrypted unit, up to reversal, names its source. The result is a
  complete decryption map, the key in all but name.
- Known plaintext (`recover_map_known_plaintext`): plain/encrypted pairs. A
  unit's values over the pairs (up to reversal) are its signature; equal
  signatures name the candidates, and every unit of an encrypted block must come
  from one plain block.
- Ciphertext only, one image (`solve_etc_jigsaw`): EtC moves and transforms
  whole blocks, so a block's content survives up to its rotation, mirror,
  negation and colour shuffle; the mean of the channels removes the colour
  shuffle, and a jigsaw solver places the grey blocks by the smoothness of their
  edges, trying the 16 orientations and polarities of each.
- Ciphertext only, many images (`reconstruct_thumbnails`): a fixed block shuffle
  keeps every block position's brightness series over the images; neighbouring
  blocks' series correlate, so the same solver places the positions and gives a
  1/M-resolution image of every image. For ELE the brightness of a position is
  read from its upper nibbles, found from the correlations of that position's
  nibbles over the images (the LE attack, position by position).

The solvers leave the global orientation and polarity open; like the other
reports, the scores take the better of those (a person recognises a mirrored
negative at a glance).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_lie.blocks import block_grid, estimate_upper_nibbles_per_position, nibbles
from keras_lie.security.metrics import gray, ssim

UNITS = {"ele": "nibble", "etc": "byte", "cat_map": "byte"}  # the cat map moves whole bytes too


@dataclasses.dataclass
class DecryptionMap:
    """For every unit (byte or nibble) of an encrypted image, the plain unit it holds, and whether reversed.

    Units are flat positions of the image's bytes (H*W*C) or nibbles (2*H*W*C:
    the lower nibbles of all bytes, then the upper). `source[p] == -1` where
    the attack could not decide.
    """

    unit: str  # "byte" or "nibble"
    image_shape: tuple[int, int, int]
    source: np.ndarray  # int (units,)
    reversed: np.ndarray  # bool (units,)

    @property
    def complete(self) -> bool:
        return bool((self.source >= 0).all())

    def decrypt(self, encrypted) -> np.ndarray:
        """Plain images from encrypted ones; undecided units come out as 0."""
        encrypted = np.asarray(encrypted)
        units = _units(encrypted, self.unit)
        top = 15 if self.unit == "nibble" else 255
        values = np.where(self.reversed, top - units, units)
        plain = np.zeros_like(units)
        known = self.source >= 0
        plain[:, self.source[known]] = values[:, known]
        return _from_units(plain, self.unit, encrypted.shape)


def recover_map_chosen_plaintext(encrypt, scheme: str, image_shape) -> tuple[DecryptionMap, np.ndarray]:
    """The decryption map of an ELE or EtC key from a few chosen images; returns it and the probes.

    Every unit gets a distinct code, one digit per probe image, whose first digit
    is below half the unit's range, so that a code and its reversal never
    collide: a 32x32 RGB image takes 4 probes for ELE (6,144 nibbles in base 16)
    and 2 for EtC (3,072 bytes in base 256).
    """
    unit = UNITS[scheme]
    height, width, channels = image_shape
    count = height * width * channels * (2 if unit == "nibble" else 1)
    base = 16 if unit == "nibble" else 256
    digits = 1
    while (base // 2) * base ** (digits - 1) < count:
        digits += 1
    codes = np.arange(count)
    probe_units = np.stack([(codes // base**k) % base for k in range(digits)][::-1])  # first digit < base / 2
    probes = _from_units(probe_units, unit, (digits, height, width, channels))
    encrypted_units = _units(np.asarray(encrypt(probes)), unit)
    reversed_ = encrypted_units[0] >= base // 2
    digits_seen = np.where(reversed_, base - 1 - encrypted_units, encrypted_units)
    seen = np.zeros(count, np.int64)
    for k in range(digits):
        seen = seen * base + digits_seen[k]
    return DecryptionMap(unit, tuple(image_shape), seen, reversed_), probes


def recover_map_known_plaintext(plain, encrypted, scheme: str, block_size: int) -> DecryptionMap:
    """The decryption map, as far as plain/encrypted pairs decide it (undecided units: -1)."""
    unit = UNITS[scheme]
    plain, encrypted = np.asarray(plain), np.asarray(encrypted)
    top = 15 if unit == "nibble" else 255
    p, e = _units(plain, unit).T, _units(encrypted, unit).T  # (units, images)
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
    for units in _units_by_block(block_of):
        shared = None
        for u in units:
            blocks = {int(block_of[c]) for c in candidates[u]}
            shared = blocks if shared is None else shared & blocks
        if shared is None or len(shared) != 1:
            continue
        block = shared.pop()
        for u in units:
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


# -- ciphertext only ------------------------------------------------------------------------


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
    states = np.stack([_orient(pieces, o, negate) for negate in (False, True) for o in range(8)], axis=1)
    flat = states.reshape(-1, m, m)  # (pieces * 16, M, M)
    right = _edge_cost(flat[:, :, -1], flat[:, :, -2], flat[:, :, 0], flat[:, :, 1])
    below = _edge_cost(flat[:, -1, :], flat[:, -2, :], flat[:, 0, :], flat[:, 1, :])
    placement = _greedy_grid(right, below, len(pieces), 16, rows, columns)
    canvas = np.zeros((rows * m, columns * m))
    for (r, c), state in placement.items():
        canvas[r * m:(r + 1) * m, c * m:(c + 1) * m] = flat[state]
    return canvas


def reconstruct_thumbnails(encrypted, scheme: str, block_size: int) -> np.ndarray:
    """Block-brightness images (N, H/M, W/M) of every image, from many encrypted images only."""
    encrypted = np.asarray(encrypted)
    grid = block_grid(encrypted, block_size)  # (N, R, C, d)
    n, rows, columns, d = grid.shape
    blocks = grid.reshape(n, rows * columns, d).astype(np.float64)
    if scheme == "etc":
        brightness = blocks.mean(axis=-1)  # blind to rotation, mirror and colour shuffle; negation flips it
    else:  # ele: per position, the upper nibbles correlate with each other over the images
        upper, parity = estimate_upper_nibbles_per_position(encrypted, block_size)
        values = nibbles(blocks.astype(np.int64)).astype(np.float64)
        brightness = (values * parity).sum(axis=-1) / upper.sum(axis=-1)
    series = _standardised(brightness)
    # Image-wide brightness moves every position together: the leading eigenvector of the
    # positions' correlations gives each one's polarity (negated EtC blocks, ELE's unknown sign).
    _, vectors = np.linalg.eigh(series.T @ series / n)
    series *= np.where(vectors[:, -1] >= 0, 1.0, -1.0)
    # Without that common part, what is left correlates most between neighbouring blocks.
    residual = _standardised(series - series.mean(axis=1, keepdims=True))
    similarity = residual.T @ residual / n
    cells = _place_on_grid(similarity, rows, columns)
    thumbnails = np.zeros((n, rows * columns))
    thumbnails[:, cells] = series
    return thumbnails.reshape(n, rows, columns)


def _place_on_grid(similarity: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """The grid cell (raster index) of every item, so that similar items are neighbours.

    Undirected similarities cannot tell left from above, so: a spectral embedding
    of the items' 4-nearest-neighbour graph (Laplacian eigenmaps: on a grid
    graph its first two non-trivial eigenvectors run along the two axes), turned
    by the angle whose sort into rows and columns fits best, then refined by
    swaps while the summed similarity of grid neighbours grows.
    """
    items = len(similarity)
    weights = np.zeros_like(similarity)
    nearest = np.argsort(-(similarity - np.eye(items) * 1e9), axis=1)[:, :4]
    for item, partners in enumerate(nearest):
        weights[item, partners] = weights[partners, item] = 1.0
    laplacian = np.diag(weights.sum(axis=1)) - weights
    _, vectors = np.linalg.eigh(laplacian)
    embedding = vectors[:, 1:3]
    pairs = _grid_pairs(rows, columns)

    def score(cells):
        at = np.empty(items, int)
        at[cells] = np.arange(items)
        return similarity[at[pairs[:, 0]], at[pairs[:, 1]]].sum()

    best_cells, best_score = None, -np.inf
    for angle in np.deg2rad(np.arange(0, 180, 3)):
        turned = embedding @ np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        order = np.argsort(turned[:, 0], kind="stable")
        cells = np.empty(items, int)
        for row, members in enumerate(np.array_split(order, rows)):
            for column, item in enumerate(members[np.argsort(turned[members, 1], kind="stable")]):
                cells[item] = row * columns + column
        candidate = score(cells)
        if candidate > best_score:
            best_cells, best_score = cells, candidate
    cells = best_cells
    improved = True
    while improved:  # pairwise swaps while they help
        improved = False
        for a in range(items):
            for b in range(a + 1, items):
                cells[[a, b]] = cells[[b, a]]
                candidate = score(cells)
                if candidate > best_score + 1e-12:
                    best_score, improved = candidate, True
                else:
                    cells[[a, b]] = cells[[b, a]]
    return cells


def _grid_pairs(rows: int, columns: int) -> np.ndarray:
    """(cell, cell) index pairs of horizontally and vertically adjacent grid cells."""
    index = np.arange(rows * columns).reshape(rows, columns)
    return np.concatenate([np.stack([index[:, :-1].ravel(), index[:, 1:].ravel()], 1),
                           np.stack([index[:-1].ravel(), index[1:].ravel()], 1)])


def _standardised(values: np.ndarray) -> np.ndarray:
    values = values - values.mean(axis=0)
    return values / np.maximum(values.std(axis=0), 1e-9)


def attack_position_keyed(encrypted, plain, scheme: str, block_size: int) -> dict:
    """The ciphertext-only attack on ELE or EtC images, scored as `ciphertext_only.attack` scores.

    Thumbnails from all the images held (`reconstruct_thumbnails`), upsampled to
    full size, each image auto-contrasted (1st to 99th percentile to 0..255, as a
    viewer would); the global symmetry and polarity that the solver leaves open
    are resolved in the attacker's favour. With one image there are no
    statistics over images: EtC's single-image jigsaw is used instead (ELE gives
    nothing to place then, and the encrypted image itself is the guess).
    """
    encrypted, plain = np.asarray(encrypted), np.asarray(plain)
    if len(encrypted) >= 2:
        reconstruction, method = reconstruct_thumbnails(encrypted, scheme, block_size), "thumbnails over the images held"
    elif scheme == "etc":
        reconstruction, method = solve_etc_jigsaw(encrypted[0], block_size)[None], "jigsaw of one image"
    else:
        reconstruction, method = gray(encrypted), "none (one ELE image gives no statistics)"
    score, best = score_reconstruction(plain, reconstruction)
    target = gray(plain)[..., None]
    return {"scheme": scheme, "block_size": block_size, "attack_images": len(encrypted), "method": method,
            "ssim_reconstruction": score,
            "psnr_reconstruction_db": float(10 * np.log10(255.0**2 / max(np.mean((target[..., 0] - best) ** 2), 1e-9))),
            "ssim_flat_baseline": ssim(target, np.full_like(target, gray(encrypted).mean())),
            "ssim_encrypted_baseline": ssim(target, gray(encrypted)[..., None]),
            "ambiguities": ["global orientation (8 symmetries of the grid)", "global polarity"],
            "reconstruction": best}


def score_reconstruction(plain, reconstruction) -> tuple[float, np.ndarray]:
    """SSIM of a grey reconstruction (N, h, w), upsampled and auto-contrasted, in its best global symmetry.

    Returns the score and that reconstruction (N, H, W) in 0..255.
    """
    target = gray(np.asarray(plain))
    reconstruction = np.asarray(reconstruction, np.float64)
    factor = target.shape[1] // reconstruction.shape[1]
    best, picture = -1.0, None
    for candidate in _symmetries(reconstruction):
        if candidate.shape[1:] != (target.shape[1] // factor, target.shape[2] // factor):
            continue
        up = np.repeat(np.repeat(candidate, factor, axis=1), factor, axis=2)
        for polarity in (up, -up):
            stretched = _auto_contrast(polarity)
            value = ssim(target[..., None], stretched[..., None])
            if value > best:
                best, picture = value, stretched
    return best, picture


# -- the greedy grid placer -----------------------------------------------------------------


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


def _orient(pieces: np.ndarray, orientation: int, negate: bool) -> np.ndarray:
    """One of the 8 symmetries of the square (4 rotations, then a mirror), and the negative."""
    x = np.rot90(pieces, orientation % 4, axes=(1, 2))
    if orientation >= 4:
        x = x[:, :, ::-1]
    return 255.0 - x if negate else x


def _symmetries(images: np.ndarray):
    for k in range(4):
        rotated = np.rot90(images, k, axes=(1, 2))
        yield rotated
        yield rotated[:, :, ::-1]


def _auto_contrast(images: np.ndarray) -> np.ndarray:
    """Each image's 1st to 99th percentile stretched to 0..255 (what a viewer does with a dim picture)."""
    low = np.percentile(images, 1, axis=(1, 2), keepdims=True)
    high = np.percentile(images, 99, axis=(1, 2), keepdims=True)
    return np.clip((images - low) / np.maximum(high - low, 1e-9) * 255.0, 0, 255)


def _units(images: np.ndarray, unit: str) -> np.ndarray:
    flat = np.asarray(images).reshape(len(images), -1).astype(np.int64)
    return np.concatenate([flat & 15, flat >> 4], axis=1) if unit == "nibble" else flat


def _from_units(units: np.ndarray, unit: str, shape) -> np.ndarray:
    units = np.asarray(units, np.int64)
    if unit == "nibble":
        half = units.shape[1] // 2
        units = units[:, half:] * 16 + units[:, :half]
    return units.reshape(shape).astype(np.uint8)


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
