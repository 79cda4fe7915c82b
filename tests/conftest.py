"""Shared fixtures: the ../shared folder (conformance data, CIFAR-10) and small images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """`KERAS_LIE_SHARED`, or `../shared` beside the project."""
    return Path(os.environ.get("KERAS_LIE_SHARED", PROJECT_ROOT.parent / "shared"))


@pytest.fixture
def reference_files() -> tuple[Path, Path]:
    """The authors' key and golden images; skips where the shared folder is absent."""
    reference = shared_dir() / "reference"
    key, golden = reference / "le_key_m4.pkl", reference / "le_golden_m4.npz"
    if not (key.is_file() and golden.is_file()):
        pytest.skip(
            f"conformance data not found in {reference}; put the shared folder beside the "
            "project or set KERAS_LIE_SHARED"
        )
    return key, golden


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def random_images(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(0, 256, size=shape, dtype=np.uint8)
