"""Rendering the security report: Markdown tables and picture grids (no measuring here)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from keras_lie.io.atomic_files import atomic_write_bytes
from keras_lie.keys import BLOCK_WISE_SCHEMES, POSITION_KEYED_SCHEMES, Key, generate_key
from keras_lie.schemes import get_scheme
from keras_lie.security.ciphertext_only import ciphertext_only_attack


def attack_block_size(key: Key) -> int | None:
    """The block size the ciphertext-only attack works at: the key's, or None for whole-image schemes."""
    return key.block_size if key.scheme in BLOCK_WISE_SCHEMES + POSITION_KEYED_SCHEMES else None


def picture_grid(images: np.ndarray, scheme: str, block_size: int | None, path: str | os.PathLike,
                 count: int = 4, attack_images: int = 1000) -> Path:
    """Rows of (plain, encrypted, ciphertext-only reconstruction) for the first `count` images.

    The pictures are made with a throwaway key drawn for this figure alone, never
    with a key being evaluated: a plain image beside its encryption under a user's
    key is a known-plaintext pair that gives that key away (see `recover_key`).
    The attack holds the first `attack_images` images encrypted with that key.
    """
    from matplotlib.figure import Figure  # no pyplot: leaves the process's backend alone

    channels = images.shape[-1]
    illustration_key = generate_key(scheme, block_size=block_size, channels=channels, image_size=images.shape[1:3])
    held = images[: max(count, attack_images)]
    encrypted = get_scheme(illustration_key).encrypt(held)
    recon = ciphertext_only_attack(held, encrypted, scheme, attack_block_size(illustration_key))["reconstruction"]
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
    m = attack_block_size(illustration_key)
    figure.suptitle(f"{scheme}{f', M = {m}' if m else ''}; attacker holds {len(held)} encrypted "
                    "images\n(throwaway illustration key)", fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    return atomic_write_bytes(path, buffer.getvalue(), overwrite=True)


def markdown(summary: dict) -> str:
    """The report as Markdown."""
    lines = ["# Security report", ""]
    if summary.get("command"):
        lines += ["Made with:", "", "```bash", summary["command"], "```", ""]
    lines += [f"{summary['images']} images of shape {tuple(summary['image_shape'])}.", "",
              "## Visual metrics", "",
              "| scheme | M | PSNR dB | SSIM | adjacent corr. h / v / d (plain -> encrypted) | entropy (bits) "
              "| NPCR % | UACI % |",
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
        if "known_plaintext" in r and "each_image_alone" in r["known_plaintext"]:
            kp = r["known_plaintext"]
            each = kp["each_image_alone"]
            lines.append(f"| {r['scheme']} | {r['block_size']} | {kp['pairs']} | "
                         f"{100 * each['share_of_images_that_give_the_key']:.0f}% of {each['images']} | "
                         f"{_number(each['blocks_median'])} / {_number(each['blocks_90th_percentile'])} / "
                         f"{_number(each['blocks_max'])} | {'yes' if kp['recovered_key_decrypts_all_images'] else 'no'} |")
    keyed = [r for r in summary["results"] if "curve" in r.get("known_plaintext", {})]
    if keyed:
        lines += ["", "## Known plaintext against the position-keyed schemes (ELE, EtC)", "",
                  "Every unit (byte for EtC, nibble for ELE) of an encrypted image is matched to the plain units with "
                  "the same values over the known pairs, up to reversal; the units of an encrypted block must come from "
                  "one plain block. Scored on the other images.", "",
                  "| scheme | M | known pairs | units decided | map decrypts the other images exactly | their SSIM |",
                  "| --- | --- | ---: | ---: | --- | ---: |"]
        for r in keyed:
            for row in r["known_plaintext"]["curve"]:
                lines.append(f"| {r['scheme']} | {r['block_size']} | {row['pairs']} | {100 * row['units_decided']:.1f}% | "
                             f"{'yes' if row['decrypts_other_images_exactly'] else 'no'} | {row['ssim_other_images']:.3f} |")
    lines += ["", "## Chosen-plaintext key recovery", "",
              "| scheme | M | probe images | designed blocks in it | probe image shape | whole key recovered |",
              "| --- | --- | ---: | ---: | --- | --- |"]
    for r in summary["results"]:
        if "chosen_plaintext" in r:
            cp = r["chosen_plaintext"]
            lines.append(f"| {r['scheme']} | {r['block_size']} | {cp['probe_images']} | {cp['probe_blocks']} | "
                         f"{' x '.join(map(str, cp['probe_image_shape']))} | {'yes' if cp['recovered_the_key'] else 'no'} |")
    lines += ["", "## Ciphertext-only reconstruction (grey, against the plain images' grey levels)", "",
              "Grey SSIM in the best global symmetry and polarity for the whole set, averaged over the disjoint "
              "sets of images attacked (each set alone; exact means every set was). References: a flat grey guess, "
              "the encrypted image itself, and the true block means (a 1/M-resolution picture, M = 4 for whole-image "
              "schemes).", "",
              "| scheme | M | encrypted images held | sets | SSIM | exact | PSNR dB | flat grey | encrypted "
              "| true block means | seconds | ambiguous |",
              "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in summary["results"]:
        for a in r["ciphertext_only"]:
            lines.append(f"| {r['scheme']} | {a['block_size'] or '-'} | {a['attack_images']} | {a.get('groups', 1)} | "
                         f"{a['ssim_reconstruction']:.3f} | "
                         f"{'yes' if a['exact'] else 'no'} | {a['psnr_reconstruction_db']:.1f} | "
                         f"{a['ssim_flat_baseline']:.3f} | {a['ssim_encrypted_baseline']:.3f} | "
                         f"{a['ssim_true_block_means']:.3f} | {a['seconds']:.1f} | "
                         f"{', '.join(a.get('ambiguities') or []) or '-'} |")
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
                auc = leak["upper_nibble_auc"]
                lines.append(f"| {r['block_size']} | trained model, {mode} stem | AUC {auc:.2f} | {parity} |")
    lines += ["", "## Key space", "", "| scheme | M | nominal bits | effective bits | trials/s here | brute force (years) |",
              "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in summary["results"]:
        ks = r["key_space"]
        lines.append(f"| {r['scheme']} | {r['block_size']} | {ks['nominal_bits']:.0f} | {ks['effective_bits']:.0f} | "
                     f"{ks['trials_per_second']:.0f} | {_power_of_ten(ks['brute_force_log10_years'])} |")
    lines += ["", "## Pictures", ""]
    for picture in dict.fromkeys(r["picture"] for r in summary["results"]):
        lines.append(f"![{picture}]({picture})")
    return "\n".join(lines) + "\n"


def headline(summary: dict) -> list[str]:
    """One row per key: what an attacker gets, and from how little, under each threat model."""
    counts = sorted({a["attack_images"] for r in summary["results"] for a in r["ciphertext_only"]})
    lines = ["", "## Headline: what each scheme hides, and from how much", "",
             "Ciphertext only: grey SSIM of our reconstruction with N encrypted images held under one key, and the "
             "smallest N at which it reached 0.5, 0.9 and exact. Known plaintext: pairs for a map that decrypts "
             "everything. Chosen plaintext: probe images for the whole key.", "",
             "| scheme | M | key | " + " | ".join(f"N={n}" for n in counts) + " | N for 0.5 / 0.9 / exact "
             "| known plaintext: pairs | chosen plaintext: probe images |",
             "| --- | --- | --- | " + " | ".join("---:" for _ in counts) + " | --- | --- | --- |"]
    for r in summary["results"]:
        curve = {a["attack_images"]: a for a in r["ciphertext_only"]}
        cells = [(f"{curve[n]['ssim_reconstruction']:.2f}" + ("*" if curve[n]["exact"] else "")) if n in curve else "-"
                 for n in counts]
        needed = " / ".join(_number(images_needed(r["ciphertext_only"], level)) for level in (0.5, 0.9, "exact"))
        kp = r.get("known_plaintext", {}).get("pairs") or ("-" if r["scheme"] != "plain" else "none needed")
        cp = r.get("chosen_plaintext")
        cp_text = f"{cp['probe_images']}" if cp else "-"
        lines.append(f"| {r['scheme']} | {r['block_size'] if r['scheme'] != 'cat_map' else '-'} | {r['key_fingerprint']} | "
                     + " | ".join(cells) + f" | {needed} | {kp} | {cp_text} |")
    lines += ["", "(* every image exact, up to the global symmetry and polarity.) A figure is what our attack reached: "
              "a lower bound on what an attacker gets, never a promise."]
    return lines


def images_needed(curve: list[dict], level: float | str) -> int | None:
    """The smallest number of images held at which the attack reached grey SSIM `level` ("exact": every image exact)."""
    for row in curve:
        if row["exact"] if level == "exact" else row["ssim_reconstruction"] >= level:
            return row["attack_images"]
    return None


def _number(value) -> str:
    return "-" if value is None else f"{value:g}"


def _power_of_ten(log10_value: float) -> str:
    return "none needed" if log10_value == float("-inf") else f"10^{log10_value:.0f}"
