"""Figures of the experiments, drawn on explicit matplotlib figures (no pyplot, no backend switch)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from keras_lie.blocks import PAPER_BLOCK_SIZE
from keras_lie.experiments.presets import PAPER_TABLE_I
from keras_lie.io.atomic_files import atomic_write_bytes
from keras_lie.keys import generate_key
from keras_lie.registry import scheme_record


def save_figure(figure, path: str | os.PathLike, dpi: int) -> Path:
    """Write a matplotlib figure as PNG, atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return atomic_write_bytes(path, buffer.getvalue(), overwrite=True)


def plot_results(summary: dict, path: str | os.PathLike) -> Path:
    """A bar plot of the measured accuracies beside the paper's."""
    from matplotlib.figure import Figure

    dataset = "cifar100" if "100" in summary["train"] else "cifar10"
    rows = summary["rows"]
    labels = [r["row"] for r in rows]
    measured = [r["test_accuracy"] for r in rows]
    # The paper's figure where it has one for the row (its schemes, with its network); else none.
    paper = [PAPER_TABLE_I[dataset].get(r["scheme"], 0.0) if r.get("backbone", "pyramidnet") == "pyramidnet"
             else 0.0 for r in rows]
    x = np.arange(len(rows))
    figure = Figure(figsize=(1.6 * len(rows) + 2, 3.6))
    axis = figure.subplots()
    axis.bar(x - 0.2, measured, 0.4, label=f"measured ({summary['preset']})")
    axis.bar(x + 0.2, paper, 0.4, label="paper, Table I")
    axis.set_xticks(x, labels, rotation=30, ha="right")
    axis.set_ylabel("test accuracy")
    axis.set_ylim(0, 1.15)
    axis.legend(loc="upper left", ncols=2)
    axis.set_title(f"Learnable image encryption on {dataset}")
    figure.tight_layout()
    return save_figure(figure, path, dpi=120)


def figure(images: np.ndarray, path: str | os.PathLike, *, block_size: int = PAPER_BLOCK_SIZE, seed: int | None = None,
           titles=("plain", "combined cat map", "block-wise pixel shuffle", "proposed")) -> Path:
    """The paper's Figure 2: each image as plain, cat map, naive shuffle and proposed, side by side.

    Args:
        images: uint8 `(N, H, W, 3)`.
        seed: key seed (default: fresh keys from the OS CSPRNG).
    """
    from matplotlib.figure import Figure

    from keras_lie.schemes import get_scheme

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    channels = images.shape[-1]
    columns = [images]
    for scheme in ("cat_map", "block_shuffle", "learnable"):
        key = generate_key(scheme, block_size=block_size if scheme_record(scheme).is_block_wise else None,
                           channels=channels, seed=seed)
        columns.append(get_scheme(key).encrypt(images))
    n = len(images)
    fig = Figure(figsize=(8, 2 * n + 0.4))
    axes = fig.subplots(n, 4, squeeze=False)
    for row in range(n):
        for col in range(4):
            axis = axes[row][col]
            axis.imshow(columns[col][row].squeeze(), cmap="gray" if channels == 1 else None, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(titles[col], fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=150)
