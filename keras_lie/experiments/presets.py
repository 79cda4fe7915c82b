"""Settings of the experiments: the paper's figures, presets, and loading a preset's data."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from keras_lie.blocks import PAPER_BLOCK_SIZE
from keras_lie.registry import SCHEME_RECORDS

PAPER_TABLE_I = {
    "cifar10": {"plain": 0.884, "cat_map": 0.468, "block_shuffle": 0.872, "learnable": 0.863},
    "cifar100": {"plain": 0.591, "cat_map": 0.209, "block_shuffle": 0.602, "learnable": 0.568},
}
SCHEME_LABELS = {name: record.label for name, record in SCHEME_RECORDS.items()}
# Published figures for the schemes that came after (Madono et al., AAAI-20 workshop, Table 3:
# Shake-PyramidNet-110 on CIFAR-10; ELE and EtC without an adaptation network).
PUBLISHED_CIFAR10 = {name: record.published_cifar10 for name, record in SCHEME_RECORDS.items()
                     if record.published_cifar10 is not None}


@dataclasses.dataclass
class Preset:
    """Settings of a reproduction run; every field can be overridden."""

    data: str = "cifar10"
    train_size: int | None = None
    test_size: int | None = None
    epochs: int = 300
    batch_size: int = 128
    learning_rate: float = 0.1
    schedule: str = "cosine"
    depth: int = 110
    alpha: float = 48
    block_size: int = PAPER_BLOCK_SIZE
    augment: bool = True
    seed: int = 0
    mixed_precision: bool = False
    jit_compile: bool | str = "auto"
    holdout: float | None = None  # test fraction of a folder without train/ and test/ sub-folders


PRESETS = {
    # The paper's setting for a GPU: PyramidNet after the block stem, full data and schedule.
    # The paper does not state its depth or schedule; these are the PyramidNet paper's CIFAR
    # settings (PyramidNet-110, alpha 48, 300 epochs).
    "paper": Preset(),
    # Fits 2 CPU cores: 10,000 training images, a small PyramidNet, 5 epochs.
    "cpu-small": Preset(train_size=10_000, test_size=10_000, epochs=5, depth=20, alpha=24),
    # A smoke run of a few minutes.
    "quick": Preset(train_size=512, test_size=256, epochs=1, depth=8, alpha=8, batch_size=64),
}

ALL_SCHEMES = tuple(name for name, record in SCHEME_RECORDS.items() if record.in_paper)  # Table I's rows




def prepare(preset: str | Preset, overrides: dict, output_dir: str | os.PathLike | None,
            data_dir: str | os.PathLike | None = None, *, encrypted: bool = False):
    """Settings (the preset with `overrides` that are not None), the output folder, and the train and test sources.

    The one experiment loader: `reproduce`, `accuracy_gap` and the command line use it;
    `encrypted` reads folders made by `keras-lie encrypt` (a trainer without the key).
    """
    from keras_lie.data import load_source
    from keras_lie.errors import DatasetUnavailableError

    settings = dataclasses.replace(PRESETS[preset] if isinstance(preset, str) else preset,
                                   **{k: v for k, v in overrides.items() if v is not None})
    output = None
    if output_dir is not None:
        output = Path(output_dir)
        output.mkdir(parents=True, exist_ok=True)
    train_source = load_source(settings.data, "train", data_dir=data_dir, limit=settings.train_size,
                               seed=settings.seed, encrypted=encrypted, holdout=settings.holdout)
    test_source = load_source(settings.data, "test", data_dir=data_dir, limit=settings.test_size,
                              seed=settings.seed, encrypted=encrypted, holdout=settings.holdout)
    if test_source.single_split:
        raise DatasetUnavailableError(
            f"{settings.data} has no test split (no train/ and test/ sub-folders), so the test accuracy would be "
            "measured on the training images. Give a folder ROOT/train/<class>/ and ROOT/test/<class>/, or hold "
            "out a seeded part of it for testing (--holdout 0.1, holdout=0.1)."
        )
    return settings, output, train_source, test_source
