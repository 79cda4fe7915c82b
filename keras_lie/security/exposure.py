"""What a recipient of a data holder's encrypted images sees: the ciphertext-only attacks on the holder's own data.

Threat model: the recipient (a trainer, or anyone the folder reaches) holds every
encrypted image of the folder, all under the holder's one key, knows the scheme
and block size (the folder's manifest says them), and has no key and no plain
image. `exposure_report` runs `reconstruction.reconstruct_from_ciphertexts` on
the first N images for growing N, as the recipient would on everything it got.
The key is used only to score (the plain images are decrypted in memory, never
written): the report holds scores and pictures of the encrypted images beside
their reconstructions, and no plain image, so sharing it gives no
known-plaintext pair away beyond what the attack itself rebuilds.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from keras_lie.errors import ImageShapeError
from keras_lie.io.atomic_files import atomic_write_bytes
from keras_lie.keys import Key
from keras_lie.schemes import get_scheme
from keras_lie.security.ciphertext_only import ciphertext_only_attack
from keras_lie.security.rendering import attack_block_size, images_needed

EXPOSURE_IMAGE_COUNTS = (1, 2, 3, 5, 20, 100, 1000)


def exposure_report(encrypted, key: Key, output_dir: str | os.PathLike, *, counts=EXPOSURE_IMAGE_COUNTS,
                    pictures: int = 4, command: str | None = None) -> dict:
    """Attack a holder's encrypted images as a recipient would; write exposure.md, exposure.json and exposure.png.

    Args:
        encrypted: uint8 (N, H, W, C): the images as handed out, all under `key`.
        key: the holder's key, used only to score the reconstructions.
        output_dir: the folder to write to (created if missing).
        counts: numbers of images held to attack with; the whole set is always
            attacked as the last row.
        pictures: how many (encrypted | rebuilt) rows the picture shows.
        command: the command line, recorded in the report.

    Returns:
        The summary written to exposure.json: one row per count with the grey
        SSIM (best global symmetry and polarity), whether every image came back
        exactly, and the smallest count reaching 0.5, 0.9 and exact.

    Raises:
        ImageShapeError: for anything but a non-empty (N, H, W, C) batch.
    """
    encrypted = np.asarray(encrypted)
    if encrypted.ndim != 4 or len(encrypted) == 0:
        raise ImageShapeError(f"Expected encrypted images (N, H, W, C), got shape {encrypted.shape}.")
    plain = np.asarray(get_scheme(key).decrypt(encrypted))  # in memory, to score; never written
    m = attack_block_size(key)
    held = sorted({c for c in counts if c < len(encrypted)} | {len(encrypted)})
    rows, final = [], None
    for count in held:
        outcome = ciphertext_only_attack(plain[:count], encrypted[:count], key.scheme, m)
        final = outcome.pop("reconstruction")
        rows.append(outcome)
    summary = {
        "scheme": key.scheme,
        "block_size": m,
        "key_fingerprint": key.short_fingerprint,
        "images": len(encrypted),
        "image_shape": list(encrypted.shape[1:]),
        "command": command,
        "ciphertext_only": rows,
        "images_needed": {str(level): images_needed(rows, level) for level in (0.5, 0.9, "exact")},
    }
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    _picture(encrypted[:pictures], final[:pictures], summary, output / "exposure.png")
    atomic_write_bytes(output / "exposure.json", json.dumps(summary, indent=1, default=float).encode(), overwrite=True)
    atomic_write_bytes(output / "exposure.md", _markdown(summary).encode(), overwrite=True)
    return summary


def _markdown(summary: dict) -> str:
    m = summary["block_size"]
    needed = summary["images_needed"]
    lines = ["# What a recipient of these encrypted images sees", ""]
    if summary.get("command"):
        lines += ["Made with:", "", "```bash", summary["command"], "```", ""]
    lines += [f"{summary['images']} images of shape {tuple(summary['image_shape'])}, scheme {summary['scheme']}"
              f"{f', M = {m}' if m else ''}, key {summary['key_fingerprint']} (used only to score).", "",
              "Ciphertext-only attack (`keras_lie.security.reconstruct_from_ciphertexts`) on the first N images, as "
              "anyone holding them can run it; grey SSIM against the plain images in the best global symmetry and "
              "polarity. A figure is what our attack reached, a lower bound on what an attacker gets.", "",
              "| images held | grey SSIM | exact | true block means | seconds |", "| ---: | ---: | --- | ---: | ---: |"]
    for row in summary["ciphertext_only"]:
        lines.append(f"| {row['attack_images']} | {row['ssim_reconstruction']:.3f} | {'yes' if row['exact'] else 'no'} | "
                     f"{row['ssim_true_block_means']:.3f} | {row['seconds']:.1f} |")
    lines += ["", f"Images needed for SSIM 0.5: {needed['0.5'] or 'not reached'}; 0.9: {needed['0.9'] or 'not reached'}; "
              f"every image exact: {needed['exact'] or 'not reached'}.", "",
              "![encrypted and rebuilt images](exposure.png)", "",
              "No plain image is written here: the pictures are the encrypted images and what the attack rebuilt "
              "from them."]
    return "\n".join(lines) + "\n"


def _picture(encrypted: np.ndarray, rebuilt: np.ndarray, summary: dict, path: Path) -> Path:
    from matplotlib.figure import Figure  # no pyplot: leaves the process's backend alone

    count = len(encrypted)
    figure = Figure(figsize=(4.2, 2 * count + 0.6))
    axes = figure.subplots(count, 2, squeeze=False)
    for row in range(count):
        for col, (picture, title) in enumerate([(encrypted[row], "handed out"),
                                                (rebuilt[row], "rebuilt without the key")]):
            axis = axes[row][col]
            axis.imshow(np.clip(picture, 0, 255).astype(np.uint8), cmap="gray" if picture.ndim == 2 else None,
                        vmin=0, vmax=255, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(title, fontsize=9)
    last = summary["ciphertext_only"][-1]
    figure.suptitle(f"{summary['scheme']}: attacker holds {last['attack_images']} images, "
                    f"grey SSIM {last['ssim_reconstruction']:.2f}", fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    return atomic_write_bytes(path, buffer.getvalue(), overwrite=True)
