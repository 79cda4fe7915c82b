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


def kernels_used(scheme, batch: int, height: int, width: int) -> set[str]:
    """The kernels an eager call on `batch` images runs: "fused" (one gather per nibble) or "lanes"."""
    from keras_lie.schemes.base import _CALL_COST_BYTES, _split_batch

    overhead = max(1, _CALL_COST_BYTES // (height * width * scheme.channels))
    unit_height = scheme.block_size if scheme.same_map_in_every_block else height
    lanes = scheme._lane_transform("encrypt", unit_height, width)
    return {"lanes" if lanes is not None and scheme._piece_kernel("encrypt", height, width, size) is lanes else "fused"
            for size, _ in _split_batch(batch, scheme._piece_sizes(height, width), overhead)}


def write_image_tree(root: Path, rng: np.random.Generator, splits=("train", "test"), per_class=4,
                     classes=("cat", "dog", "frog"), size=16) -> Path:
    """A small class-folder tree ROOT/<split>/<class>/<n>.png of random images."""
    import tensorflow as tf

    for split in splits:
        for label in classes:
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                image = random_images(rng, (size, size, 3))
                (folder / f"{i:04d}.png").write_bytes(tf.io.encode_png(image).numpy())
    return root


def zip_tree(root: Path, zip_path: Path, prefix: str = "tiny") -> Path:
    import zipfile

    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(root.rglob("*.png")):
            archive.write(path, f"{prefix}/{path.relative_to(root).as_posix()}")
    return zip_path


@pytest.fixture
def image_tree(tmp_path, rng):
    return write_image_tree(tmp_path / "tree", rng)


@pytest.fixture
def image_zip(image_tree, tmp_path):
    return zip_tree(image_tree, tmp_path / "tiny.zip")


@pytest.fixture(scope="session")
def cifar_test_images() -> np.ndarray:
    """120 CIFAR-10 test images drawn afresh every run (images no test tuned on); skips without the shared zip."""
    import io
    import zipfile

    from PIL import Image

    archive = shared_dir() / "data" / "cifar10-jpeg.zip"
    if not archive.is_file():
        pytest.skip(f"CIFAR-10 zip not found at {archive}; put the shared folder beside the project")
    with zipfile.ZipFile(archive) as z:
        names = sorted(n for n in z.namelist() if n.startswith("cifar10/test/") and n.endswith(".jpg"))
        picks = np.random.default_rng().choice(len(names), 120, replace=False)
        return np.stack([np.asarray(Image.open(io.BytesIO(z.read(names[i]))).convert("RGB")) for i in picks])


def true_block_means(images, block_size: int) -> np.ndarray:
    """(N, H, W): every M x M block replaced by its true grey mean, the best a brightness-only attack can give."""
    from keras_lie.security.ciphertext_only import reconstruct_block_means

    return reconstruct_block_means(images, block_size)


def true_block_means_ssim(images, block_size: int) -> float:
    """Grey SSIM of `true_block_means`: the reference every ciphertext-only attack must beat."""
    from keras_lie.security.metrics import gray, ssim

    return ssim(gray(images)[..., None], true_block_means(images, block_size)[..., None])


@pytest.fixture
def cifar_zip() -> Path:
    path = shared_dir() / "data" / "cifar10-jpeg.zip"
    if not path.is_file():
        pytest.skip(f"{path} not found; put the shared folder beside the project or set KERAS_LIE_SHARED")
    return path


def assert_one_step_is_equivariant(plain_model, key, image_shape, num_classes: int) -> None:
    """One SGD step on plain images and one on `key`'s images from the converted model: the same loss,
    and weights that stay converted (for any model `keras_lie.models.from_plain` converts exactly)."""
    import keras

    import keras_lie
    from keras_lie.models import from_plain

    encrypted_model = from_plain(plain_model, key)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (8, *image_shape), dtype=np.uint8)
    y = rng.integers(0, num_classes, 8)
    losses = []
    for model, images in ((plain_model, x), (encrypted_model, keras_lie.encrypt(x, key))):
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=1e-4),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        losses.append(model.train_on_batch(images.astype("float32"), y))
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    converted = from_plain(plain_model, key)  # the plain model after its step, converted
    for a, b in zip(converted.get_weights(), encrypted_model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
