"""`security_report`: measures metrics and attacks per scheme and block size; `rendering` writes them up."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from keras_lie.io.atomic_files import atomic_write_bytes
from keras_lie.keys import (
    BLOCK_WISE_SCHEMES,
    POSITION_KEYED_SCHEMES,
    BlockShuffleKey,
    CatMapKey,
    ELEKey,
    EtCKey,
    Key,
    LearnableKey,
    generate_key,
)
from keras_lie.models import find_block_stem
from keras_lie.schemes import get_scheme
from keras_lie.security import chosen_plaintext, known_plaintext, metrics
from keras_lie.security.ciphertext_only import ciphertext_only_attack, estimate_nibble_model
from keras_lie.security.keyspace import brute_force_log10_years, key_space_bits
from keras_lie.security.rendering import attack_block_size, markdown, picture_grid

ATTACK_IMAGE_COUNTS = (1, 2, 3, 5, 20, 100, 1000)
ATTACK_GROUPS = 3  # disjoint groups of images averaged for the small counts
KNOWN_PLAINTEXT_IMAGES = 100


def neighbour_key(key: Key) -> Key:
    """The key that differs from `key` by a single swap (one bit of the secret for the cat map)."""
    if isinstance(key, (LearnableKey, BlockShuffleKey)):
        permutation = np.array(key.permutation)
        permutation[[0, 1]] = permutation[[1, 0]]
        return type(key)(key.block_size, key.channels, permutation)
    if isinstance(key, ELEKey):
        rows = np.array(key.nibble_keys)
        rows[0, [0, 1]] = rows[0, [1, 0]]
        return ELEKey(key.block_size, key.channels, key.image_size, rows, key.block_permutation)
    if isinstance(key, EtCKey):
        negative = np.array(key.negative)
        negative[0] = ~negative[0]
        return EtCKey(key.block_size, key.channels, key.image_size, rotations=key.rotations, negative=negative,
                      flip_vertical=key.flip_vertical, flip_horizontal=key.flip_horizontal,
                      channel_sources=key.channel_sources, block_permutation=key.block_permutation,
                      colour_shuffle=key.colour_shuffle)
    if isinstance(key, CatMapKey):
        secret = bytearray(key.secret)
        secret[0] ^= 1
        return CatMapKey(key.block_size, key.channels, bytes(secret))
    return key


def evaluate_scheme(images: np.ndarray, key: Key, *, leakage_models: dict | None = None,
                    encrypted: np.ndarray | None = None, attack_groups: int = ATTACK_GROUPS,
                    attack_counts=ATTACK_IMAGE_COUNTS) -> dict:
    """All measurements for one key on uint8 images (N, H, W, C); no pictures.

    `leakage_models` maps a stem input mode to a model trained under `key`;
    `encrypted` may pass `images` already encrypted with `key`.
    """
    scheme = get_scheme(key)
    if encrypted is None:
        encrypted = scheme.encrypt(images)
    result = {
        "scheme": key.scheme,
        "block_size": key.block_size,
        "images": len(images),
        "key_fingerprint": key.short_fingerprint,
        "psnr_db": metrics.psnr(images, encrypted),
        "ssim": metrics.ssim(images, encrypted),
        "adjacent_correlation_plain": metrics.adjacent_correlation(images),
        "adjacent_correlation_encrypted": metrics.adjacent_correlation(encrypted),
        "entropy_plain": metrics.histogram_entropy(images),
        "entropy_encrypted": metrics.histogram_entropy(encrypted),
    }
    if key.scheme != "plain":
        npcr, uaci = metrics.npcr_uaci(encrypted, get_scheme(neighbour_key(key)).encrypt(images))
        result["key_sensitivity"] = {"npcr_percent": npcr, "uaci_percent": uaci}
    if key.scheme in BLOCK_WISE_SCHEMES:  # the position-keyed schemes: _decryption_map_attacks
        found = known_plaintext.pairs_needed(images[:8], encrypted[:8], key.scheme, key.block_size)
        recovered = found.pop("key")
        decrypts = recovered is not None and np.array_equal(get_scheme(recovered).decrypt(encrypted), images)
        per_image = known_plaintext.blocks_needed_per_image(
            images[:KNOWN_PLAINTEXT_IMAGES], encrypted[:KNOWN_PLAINTEXT_IMAGES], key.scheme, key.block_size)
        per_image.pop("per_image")
        result["known_plaintext"] = {**found, "recovered_key_decrypts_all_images": bool(decrypts),
                                     "each_image_alone": per_image}
        probe = chosen_plaintext.recover_key_chosen_plaintext(scheme.encrypt, key.scheme, key.block_size, key.channels)
        result["chosen_plaintext"] = {"probe_images": len(probe.probe_images), "probe_blocks": probe.probe_blocks,
                                      "probe_image_shape": list(probe.probe_images.shape[1:]),
                                      "recovered_the_key": probe.key == key}
    if key.scheme in POSITION_KEYED_SCHEMES + ("cat_map",):
        result.update(_decryption_map_attacks(images, encrypted, key))
    result["ciphertext_only"] = ciphertext_only_curve(images, encrypted, key, attack_counts, groups=attack_groups)
    if key.scheme == "learnable":
        estimate = estimate_nibble_model(encrypted[:1], key.block_size)
        from keras_lie.security.key_leakage import kernel_leakage, score_nibble_model

        result["nibble_structure_from_one_encrypted_image"] = score_nibble_model(estimate, key)
        if leakage_models:
            result["model_leakage"] = {mode: kernel_leakage(model, key) for mode, model in leakage_models.items()}
    space = key_space_bits(key.scheme, key.block_size, key.channels, min(images.shape[1:3]))  # square images
    rate = _trial_rate(scheme, images[:1])
    result["key_space"] = {**space, "trials_per_second": rate,
                           "brute_force_log10_years": brute_force_log10_years(space["effective_bits"], rate)}
    return result


def _decryption_map_attacks(images: np.ndarray, encrypted: np.ndarray, key: Key) -> dict:
    """Known- and chosen-plaintext recovery of a decryption map (ELE, EtC, and the cat map's byte permutation).

    The cat map moves whole pixels, so its units are bytes and its "blocks" single pixels.
    """
    scheme = get_scheme(key)
    unit_block = 1 if key.scheme == "cat_map" else key.block_size
    curve = known_plaintext.known_plaintext_curve(images[:KNOWN_PLAINTEXT_IMAGES], encrypted[:KNOWN_PLAINTEXT_IMAGES],
                                                  key.scheme, unit_block)
    enough = [row["pairs"] for row in curve if row["decrypts_other_images_exactly"]]
    found, probes = chosen_plaintext.recover_map_chosen_plaintext(scheme.encrypt, key.scheme, images.shape[1:])
    result = {
        "known_plaintext": {"pairs": enough[0] if enough else None, "curve": curve},
        "chosen_plaintext": {"probe_images": len(probes),
                             "probe_blocks": (images.shape[1] * images.shape[2] // unit_block**2) * len(probes),
                             "probe_image_shape": list(probes.shape[1:]),
                             "recovered_the_key": bool(found.complete and np.array_equal(found.decrypt(encrypted), images))},
    }
    return result


def ciphertext_only_curve(images: np.ndarray, encrypted: np.ndarray, key: Key,
                          counts=ATTACK_IMAGE_COUNTS, groups: int = ATTACK_GROUPS) -> list[dict]:
    """The ciphertext-only attack against the number of encrypted images the attacker holds.

    For each count, up to `groups` disjoint groups of that many images are
    attacked separately and their scores averaged (a few images are a noisy
    sample); a count is exact when every group's reconstruction was. The plain
    scheme gets one row.
    """
    m = attack_block_size(key)
    rows = []
    most_groups = groups
    for count in counts:
        if count > len(images):
            break
        groups = max(1, min(most_groups, len(images) // count))
        outcomes = []
        for g in range(groups):
            part = slice(g * count, (g + 1) * count)
            outcome = ciphertext_only_attack(images[part], encrypted[part], key.scheme, m)
            outcome.pop("reconstruction")
            outcomes.append(outcome)
        row = dict(outcomes[0])
        for field in ("ssim_reconstruction", "psnr_reconstruction_db", "ssim_flat_baseline", "ssim_encrypted_baseline",
                      "ssim_true_block_means", "seconds"):
            row[field] = float(np.mean([o[field] for o in outcomes]))
        row["exact"] = all(o["exact"] for o in outcomes)
        row["groups"] = groups
        row["ssim_per_group"] = [o["ssim_reconstruction"] for o in outcomes]
        rows.append(row)
        if key.scheme == "plain":
            break
    return rows


def security_report(
    images: np.ndarray,
    output_dir: str | os.PathLike,
    *,
    keys: list[Key] | None = None,
    schemes=("plain", "cat_map", "block_shuffle", "learnable", "ele", "etc"),
    block_sizes=(4, 8),
    leakage_models: list | None = None,
    command: str | None = None,
    seed: int | None = None,
    attack_groups: int = ATTACK_GROUPS,
    attack_counts=ATTACK_IMAGE_COUNTS,
) -> dict:
    """Evaluate every key (default: fresh keys for each scheme and block size); write the report.

    Writes `report.md`, `report.json` and `grid_<scheme>_m<M>.png` to `output_dir`.
    `leakage_models` are classifiers trained on images encrypted with one of the
    learnable `keys` (matched by the key fingerprint they record); their first
    convolutions are examined for key leakage (see `train_leakage_model`).
    """
    images = np.asarray(images)
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    if keys is None:
        keys = []
        for scheme in schemes:
            for m in (block_sizes if scheme in BLOCK_WISE_SCHEMES + POSITION_KEYED_SCHEMES else (None,)):
                keys.append(generate_key(scheme, block_size=m, channels=images.shape[-1], seed=seed,
                                         image_size=images.shape[1:3]))
    results, grids = [], {}
    for key in keys:
        models = {
            find_block_stem(model).input_mode: model
            for model in leakage_models or []
            if key.scheme == "learnable" and _key_of(model) == key.fingerprint
        }
        encrypted = get_scheme(key).encrypt(images)
        result = evaluate_scheme(images, key, leakage_models=models, encrypted=encrypted, attack_groups=attack_groups,
                                 attack_counts=attack_counts)
        name = f"grid_{key.scheme}_m{key.block_size}.png"
        if name not in grids:  # one picture per scheme and block size, drawn with its own throwaway key
            grids[name] = picture_grid(images, key.scheme, key.block_size, output / name)
        result["picture"] = name
        results.append(result)
    summary = {"images": len(images), "image_shape": list(images.shape[1:]), "command": command, "results": results}
    atomic_write_bytes(output / "report.json", json.dumps(summary, indent=1, default=float).encode(), overwrite=True)
    atomic_write_bytes(output / "report.md", markdown(summary).encode(), overwrite=True)
    return summary


def _trial_rate(scheme, image) -> float:
    """Encryptions of one image per second: the cost of one brute-force trial."""
    scheme.encrypt(image)
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < 0.5:
        scheme.encrypt(image)
        count += 1
    return count / (time.perf_counter() - start)


def _key_of(model) -> str | None:
    from keras_lie.models import encryption_info

    info = encryption_info(model)
    return info.key_fingerprint if info else None
