"""`security_report`: metrics and attacks per scheme and block size, as Markdown, JSON and pictures."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from keras_lie._files import atomic_write_bytes
from keras_lie.keys import BLOCK_WISE_SCHEMES, BlockShuffleKey, CatMapKey, Key, LearnableKey, generate_key
from keras_lie.models import find_block_stem
from keras_lie.schemes import get_scheme
from keras_lie.security import ciphertext_only, known_plaintext, metrics
from keras_lie.security.keyspace import brute_force_log10_years, key_space_bits

ATTACK_IMAGE_COUNTS = (1, 4, 16, 64, 256)


def neighbour_key(key: Key) -> Key:
    """The key that differs from `key` by a single swap (one bit of the secret for the cat map)."""
    if isinstance(key, (LearnableKey, BlockShuffleKey)):
        permutation = np.array(key.permutation)
        permutation[[0, 1]] = permutation[[1, 0]]
        return type(key)(key.block_size, key.channels, permutation)
    if isinstance(key, CatMapKey):
        secret = bytearray(key.secret)
        secret[0] ^= 1
        return CatMapKey(key.block_size, key.channels, bytes(secret))
    return key


def attack_block_size(key: Key) -> int:
    """The block size the ciphertext-only attack works at: the key's, or 4 for whole-image schemes."""
    return key.block_size if key.scheme in BLOCK_WISE_SCHEMES else 4


def evaluate_scheme(images: np.ndarray, key: Key, *, leakage_models: dict | None = None,
                    encrypted: np.ndarray | None = None) -> dict:
    """All measurements for one key on uint8 images (N, H, W, C); no pictures.

    `leakage_models` maps a stem input mode to a model trained under `key`;
    `encrypted` may pass `images` already encrypted with `key`.
    """
    scheme = get_scheme(key)
    if encrypted is None:
        encrypted = scheme.encrypt(images)
    m = attack_block_size(key)
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
    if key.scheme in BLOCK_WISE_SCHEMES:
        found = known_plaintext.pairs_needed(images[:8], encrypted[:8], key.scheme, key.block_size)
        recovered = found.pop("key")
        decrypts = recovered is not None and np.array_equal(get_scheme(recovered).decrypt(encrypted), images)
        result["known_plaintext"] = {**found, "recovered_key_decrypts_all_images": bool(decrypts)}
    coa = []
    for count in ATTACK_IMAGE_COUNTS:
        if count > len(images):
            break
        outcome = ciphertext_only.attack(encrypted, images, key.scheme, m, attack_images=count)
        outcome.pop("reconstruction")
        coa.append(outcome)
        if key.scheme != "learnable":
            break  # block means need no statistics: one count says it all
    result["ciphertext_only"] = coa
    if key.scheme == "learnable":
        estimate = ciphertext_only.estimate_nibble_model(encrypted[: ATTACK_IMAGE_COUNTS[0]], key.block_size)
        from keras_lie.security.key_leakage import kernel_leakage, score_nibble_model

        result["nibble_structure_from_one_encrypted_image"] = score_nibble_model(estimate, key)
        if leakage_models:
            result["model_leakage"] = {mode: kernel_leakage(model, key) for mode, model in leakage_models.items()}
    space = key_space_bits(key.scheme, key.block_size, key.channels, min(images.shape[1:3]))
    rate = _trial_rate(scheme, images[:1])
    result["key_space"] = {**space, "trials_per_second": rate,
                           "brute_force_log10_years": brute_force_log10_years(space["effective_bits"], rate)}
    return result


def picture_grid(images: np.ndarray, key: Key, path: str | os.PathLike, count: int = 4, *,
                 encrypted: np.ndarray | None = None) -> Path:
    """Rows of (plain, encrypted, ciphertext-only reconstruction) for the first `count` images.

    The attack's statistics come from all of `images`; `encrypted` may pass them encrypted.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if encrypted is None:
        encrypted = get_scheme(key).encrypt(images)
    recon = ciphertext_only.attack(encrypted, images, key.scheme, attack_block_size(key))["reconstruction"]
    figure, axes = plt.subplots(count, 3, figsize=(6, 2 * count + 0.4), squeeze=False)
    for row in range(count):
        for col, (picture, title) in enumerate(
            [(images[row], "plain"), (encrypted[row], "encrypted"), (recon[row], "attack (no key)")]
        ):
            axis = axes[row][col]
            axis.imshow(picture.astype(np.uint8), cmap="gray" if picture.ndim == 2 else None,
                        vmin=0, vmax=255, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(title, fontsize=9)
    figure.suptitle(f"{key.scheme}, M = {attack_block_size(key)}", fontsize=10)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def security_report(
    images: np.ndarray,
    output_dir: str | os.PathLike,
    *,
    keys: list[Key] | None = None,
    schemes=("plain", "cat_map", "block_shuffle", "learnable"),
    block_sizes=(4, 8),
    leakage_models: list | None = None,
    command: str | None = None,
    seed: int | None = None,
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
            for m in (block_sizes if scheme in BLOCK_WISE_SCHEMES else (None,)):
                keys.append(generate_key(scheme, block_size=m, channels=images.shape[-1], seed=seed))
    results = []
    for key in keys:
        models = {
            find_block_stem(model).input_mode: model
            for model in leakage_models or []
            if key.scheme == "learnable" and _key_of(model) == key.fingerprint
        }
        encrypted = get_scheme(key).encrypt(images)
        result = evaluate_scheme(images, key, leakage_models=models, encrypted=encrypted)
        grid = picture_grid(images, key, output / f"grid_{key.scheme}_m{key.block_size}.png", encrypted=encrypted)
        result["picture"] = grid.name
        results.append(result)
    summary = {"images": len(images), "image_shape": list(images.shape[1:]), "command": command, "results": results}
    atomic_write_bytes(output / "report.json", json.dumps(summary, indent=1, default=float).encode(), overwrite=True)
    atomic_write_bytes(output / "report.md", markdown(summary).encode(), overwrite=True)
    return summary


def train_leakage_model(images, labels, key: Key, input_mode: str, *, epochs: int = 3, seed: int = 0):
    """A small classifier trained on `images` encrypted with `key`, for `kernel_leakage`."""
    import functools

    import keras
    import tensorflow as tf

    from keras_lie.models import build_classifier, pyramidnet
    from keras_lie.training import train

    keras.utils.set_random_seed(seed)
    encrypted = get_scheme(key).encrypt(images).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((encrypted, np.asarray(labels))).shuffle(len(images), seed=seed).batch(64)
    builder = functools.partial(
        build_classifier, key, num_classes=int(np.max(labels)) + 1, input_shape=images.shape[1:],
        backbone=functools.partial(pyramidnet, depth=8, alpha=16), stem={"block_size": key.block_size},
        stem_input_mode=input_mode,
    )
    model, _ = train(builder, data, epochs=epochs, learning_rate=0.05, verbose=0)
    return model


def markdown(summary: dict) -> str:
    """The report as Markdown."""
    lines = ["# Security report", ""]
    if summary.get("command"):
        lines += ["Made with:", "", "```bash", summary["command"], "```", ""]
    lines += [f"{summary['images']} images of shape {tuple(summary['image_shape'])}.", "",
              "## Visual metrics", "",
              "| scheme | M | PSNR dB | SSIM | adjacent corr. h / v / d (plain -> encrypted) | entropy (bits) | NPCR % | UACI % |",
              "| --- | --- | ---: | ---: | --- | --- | ---: | ---: |"]
    for r in summary["results"]:
        before, after = r["adjacent_correlation_plain"], r["adjacent_correlation_encrypted"]
        corr = " / ".join(f"{before[k]:.2f}->{after[k]:.2f}" for k in ("horizontal", "vertical", "diagonal"))
        entropy = " ".join(f"{v:.2f}" for v in r["entropy_encrypted"])
        sensitivity = r.get("key_sensitivity", {})
        lines.append(
            f"| {r['scheme']} | {r['block_size']} | {r['psnr_db']:.2f} | {r['ssim']:.3f} | {corr} | {entropy} | "
            f"{sensitivity.get('npcr_percent', float('nan')):.2f} | {sensitivity.get('uaci_percent', float('nan')):.2f} |"
        )
    lines += ["", "## Known-plaintext key recovery", "",
              "| scheme | M | pairs for the whole key | blocks for the whole key | recovered key decrypts everything |",
              "| --- | --- | ---: | ---: | --- |"]
    for r in summary["results"]:
        if "known_plaintext" in r:
            kp = r["known_plaintext"]
            lines.append(f"| {r['scheme']} | {r['block_size']} | {kp['pairs']} | {kp['blocks']} | "
                         f"{'yes' if kp['recovered_key_decrypts_all_images'] else 'no'} |")
    lines += ["", "## Ciphertext-only reconstruction (SSIM against the plain images' grey levels)", "",
              "| scheme | M | encrypted images used | SSIM of reconstruction | flat-grey baseline | encrypted image itself |",
              "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in summary["results"]:
        for a in r["ciphertext_only"]:
            lines.append(f"| {r['scheme']} | {a['block_size']} | {a['attack_images']} | {a['ssim_reconstruction']:.3f} | "
                         f"{a['ssim_flat_baseline']:.3f} | {a['ssim_encrypted_baseline']:.3f} |")
    leak_rows = [r for r in summary["results"] if r["scheme"] == "learnable"]
    if leak_rows:
        lines += ["", "## Nibble structure of the proposed scheme's key (0.5 = chance)", "",
                  "| M | source | upper-nibble positions (accuracy or AUC) | reversal parity accuracy |",
                  "| --- | --- | --- | ---: |"]
        for r in leak_rows:
            one = r["nibble_structure_from_one_encrypted_image"]
            lines.append(f"| {r['block_size']} | one encrypted image | accuracy {one['upper_nibble_accuracy']:.2f} | "
                         f"{one['parity_accuracy']:.2f} |")
            for mode, leak in (r.get("model_leakage") or {}).items():
                parity = f"{leak['parity_accuracy']:.2f}" if "parity_accuracy" in leak else "n/a"
                lines.append(f"| {r['block_size']} | trained model, {mode} stem | AUC {leak['upper_nibble_auc']:.2f} | {parity} |")
    lines += ["", "## Key space", "", "| scheme | M | nominal bits | effective bits | trials/s here | brute force (years) |",
              "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in summary["results"]:
        ks = r["key_space"]
        lines.append(f"| {r['scheme']} | {r['block_size']} | {ks['nominal_bits']:.0f} | {ks['effective_bits']:.0f} | "
                     f"{ks['trials_per_second']:.0f} | {_power_of_ten(ks['brute_force_log10_years'])} |")
    lines += ["", "## Pictures", ""]
    for r in summary["results"]:
        lines.append(f"![{r['scheme']} M={r['block_size']}]({r['picture']})")
    return "\n".join(lines) + "\n"


def _power_of_ten(log10_value: float) -> str:
    return "none needed" if log10_value == float("-inf") else f"10^{log10_value:.0f}"


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
