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
from keras_lie.security import chosen_plaintext, ciphertext_only, known_plaintext, metrics
from keras_lie.security.keyspace import brute_force_log10_years, key_space_bits

ATTACK_IMAGE_COUNTS = (1, 4, 16, 64, 256, 1000)
ATTACK_GROUPS = 4  # disjoint groups of images averaged for the small counts
KNOWN_PLAINTEXT_IMAGES = 100


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
        per_image = known_plaintext.blocks_needed_per_image(
            images[:KNOWN_PLAINTEXT_IMAGES], encrypted[:KNOWN_PLAINTEXT_IMAGES], key.scheme, key.block_size)
        per_image.pop("per_image")
        result["known_plaintext"] = {**found, "recovered_key_decrypts_all_images": bool(decrypts),
                                     "each_image_alone": per_image}
        probe = chosen_plaintext.recover_key_chosen_plaintext(scheme.encrypt, key.scheme, key.block_size, key.channels)
        result["chosen_plaintext"] = {"probe_images": len(probe.probe_images), "probe_blocks": probe.probe_blocks,
                                      "probe_image_shape": list(probe.probe_images.shape[1:]),
                                      "recovered_the_key": probe.key == key}
    result["ciphertext_only"] = ciphertext_only_curve(images, encrypted, key)
    if key.scheme == "learnable":
        estimate = ciphertext_only.estimate_nibble_model(encrypted[:1], key.block_size)
        from keras_lie.security.key_leakage import kernel_leakage, score_nibble_model

        result["nibble_structure_from_one_encrypted_image"] = score_nibble_model(estimate, key)
        if leakage_models:
            result["model_leakage"] = {mode: kernel_leakage(model, key) for mode, model in leakage_models.items()}
    space = key_space_bits(key.scheme, key.block_size, key.channels, min(images.shape[1:3]))
    rate = _trial_rate(scheme, images[:1])
    result["key_space"] = {**space, "trials_per_second": rate,
                           "brute_force_log10_years": brute_force_log10_years(space["effective_bits"], rate)}
    return result


def ciphertext_only_curve(images: np.ndarray, encrypted: np.ndarray, key: Key,
                          counts=ATTACK_IMAGE_COUNTS) -> list[dict]:
    """The ciphertext-only attack against the number of encrypted images the attacker holds.

    For each count, up to `ATTACK_GROUPS` disjoint groups of that many images are
    attacked separately and their SSIM and PSNR averaged (one image is a noisy
    sample). Whole-image schemes get one row (block means need no statistics).
    """
    m = attack_block_size(key)
    rows = []
    for count in counts:
        if count > len(images):
            break
        groups = max(1, min(ATTACK_GROUPS, len(images) // count))
        outcomes = []
        for g in range(groups):
            part = slice(g * count, (g + 1) * count)
            outcome = ciphertext_only.attack(encrypted[part], images[part], key.scheme, m)
            outcome.pop("reconstruction")
            outcomes.append(outcome)
        row = dict(outcomes[0])
        for field in ("ssim_reconstruction", "psnr_reconstruction_db", "ssim_flat_baseline", "ssim_encrypted_baseline"):
            row[field] = float(np.mean([o[field] for o in outcomes]))
        row["groups"] = groups
        row["ssim_per_group"] = [o["ssim_reconstruction"] for o in outcomes]
        rows.append(row)
        if key.scheme not in BLOCK_WISE_SCHEMES:
            break
    return rows


def picture_grid(images: np.ndarray, scheme: str, block_size: int | None, path: str | os.PathLike,
                 count: int = 4, attack_images: int = 256) -> Path:
    """Rows of (plain, encrypted, ciphertext-only reconstruction) for the first `count` images.

    The pictures are made with a throwaway key drawn for this figure alone, never
    with a key being evaluated: a plain image beside its encryption under a user's
    key is a known-plaintext pair that gives that key away (see `recover_key`).
    The attack holds the first `attack_images` images encrypted with that key.
    """
    import io

    from matplotlib.figure import Figure  # no pyplot: leaves the process's backend alone

    channels = images.shape[-1]
    illustration_key = generate_key(scheme, block_size=block_size, channels=channels)
    held = images[: max(count, attack_images)]
    encrypted = get_scheme(illustration_key).encrypt(held)
    recon = ciphertext_only.attack(encrypted, held, scheme, attack_block_size(illustration_key))["reconstruction"]
    figure = Figure(figsize=(6, 2 * count + 0.6))
    axes = figure.subplots(count, 3, squeeze=False)
    for row in range(count):
        for col, (picture, title) in enumerate(
            [(held[row], "plain"), (encrypted[row], "encrypted"), (recon[row], "attack (no key)")]
        ):
            axis = axes[row][col]
            axis.imshow(picture.astype(np.uint8), cmap="gray" if picture.ndim == 2 else None,
                        vmin=0, vmax=255, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(title, fontsize=9)
    figure.suptitle(f"{scheme}, M = {attack_block_size(illustration_key)}; attacker holds {len(held)} encrypted "
                    "images\n(throwaway illustration key)", fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    return atomic_write_bytes(path, buffer.getvalue(), overwrite=True)


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
        grid = picture_grid(images, key.scheme, key.block_size, output / f"grid_{key.scheme}_m{key.block_size}.png")
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
    lines += headline(summary)
    lines += ["", "## Known-plaintext key recovery", "",
              "| scheme | M | pairs for the whole key | images that alone give the key | blocks needed: median / 90th pct. / max "
              "| recovered key decrypts everything |",
              "| --- | --- | ---: | ---: | --- | --- |"]
    for r in summary["results"]:
        if "known_plaintext" in r:
            kp = r["known_plaintext"]
            each = kp["each_image_alone"]
            lines.append(f"| {r['scheme']} | {r['block_size']} | {kp['pairs']} | "
                         f"{100 * each['share_of_images_that_give_the_key']:.0f}% of {each['images']} | "
                         f"{_number(each['blocks_median'])} / {_number(each['blocks_90th_percentile'])} / "
                         f"{_number(each['blocks_max'])} | {'yes' if kp['recovered_key_decrypts_all_images'] else 'no'} |")
    lines += ["", "## Chosen-plaintext key recovery", "",
              "| scheme | M | probe images | designed blocks in it | probe image shape | whole key recovered |",
              "| --- | --- | ---: | ---: | --- | --- |"]
    for r in summary["results"]:
        if "chosen_plaintext" in r:
            cp = r["chosen_plaintext"]
            lines.append(f"| {r['scheme']} | {r['block_size']} | {cp['probe_images']} | {cp['probe_blocks']} | "
                         f"{' x '.join(map(str, cp['probe_image_shape']))} | {'yes' if cp['recovered_the_key'] else 'no'} |")
    lines += ["", "## Ciphertext-only reconstruction (grey, against the plain images' grey levels)", "",
              "| scheme | M | encrypted images held | SSIM | PSNR dB | flat-grey SSIM | encrypted image SSIM | ambiguous |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in summary["results"]:
        for a in r["ciphertext_only"]:
            lines.append(f"| {r['scheme']} | {a['block_size']} | {a['attack_images']} | {a['ssim_reconstruction']:.3f} | "
                         f"{a['psnr_reconstruction_db']:.1f} | {a['ssim_flat_baseline']:.3f} | "
                         f"{a['ssim_encrypted_baseline']:.3f} | {', '.join(a.get('ambiguities') or []) or '-'} |")
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


def headline(summary: dict) -> list[str]:
    """One row per key: what an attacker gets, and from how little."""
    lines = ["", "## Headline: what each scheme hides, and from how much", "",
             "| scheme | M | ciphertext only: grey SSIM with 1 / 16 / all images held | known plaintext: "
             "pairs for the key | chosen plaintext: probe images (blocks) |",
             "| --- | --- | --- | --- | --- |"]
    for r in summary["results"]:
        curve = {a["attack_images"]: a["ssim_reconstruction"] for a in r["ciphertext_only"]}
        most = max(curve)
        coa = " / ".join(f"{curve[k]:.2f}" if k in curve else "-" for k in (1, 16)) + f" / {curve[most]:.2f} ({most})"
        kp = r.get("known_plaintext", {}).get("pairs") or ("-" if r["scheme"] != "plain" else "none needed")
        cp = r.get("chosen_plaintext")
        cp_text = f"{cp['probe_images']} ({cp['probe_blocks']})" if cp else "-"
        lines.append(f"| {r['scheme']} | {r['block_size']} | {coa} | {kp} | {cp_text} |")
    return lines


def _number(value) -> str:
    return "-" if value is None else f"{value:g}"


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
