"""`build_classifier`: one call from a key (or scheme) to a model for its encrypted images."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable

import keras
import numpy as np

from keras_lie.encryption_spec import EncryptionSpec
from keras_lie.errors import KeyMismatchError
from keras_lie.io.dataset_manifest import DatasetManifest
from keras_lie.keys import Key, as_key, short_fingerprint
from keras_lie.layers import BlockStem, EncryptionInfo
from keras_lie.models.pyramidnet import pyramidnet

DEFAULT_STEM = {"filters": 48, "nin_depth": 1, "output_channels": 32}


def build_classifier(
    key: Key | EncryptionSpec | DatasetManifest | str | os.PathLike | None = None,
    *,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    backbone: Callable[..., keras.Model] | keras.Model | None = None,
    stem: BlockStem | dict | bool | None = None,
    stem_input_mode: str = "bytes",
    name: str | None = None,
) -> keras.Model:
    """A classifier for images encrypted with `key`: EncryptionInfo, BlockStem, backbone.

    Args:
        key: what the images are encrypted with: an `EncryptionSpec` (the key's
            public facts), a `Key` or a key file path, the `DatasetManifest` of an
            encrypted folder (a trainer's data: its scheme and key fingerprint), or a
            scheme name (any of `keras_lie.registry.scheme_names()`) when no key is at
            hand. The model records the scheme and the key's fingerprint (never the
            key) in an `EncryptionInfo` layer, so `check_key` can refuse other keys.
        num_classes: number of classes.
        input_shape: `(H, W, C)` of the (encrypted) images, values 0..255.
        backbone: a `keras.Model` taking the stem's output, or a builder called as
            `backbone(input_shape=..., num_classes=...)` (default: PyramidNet-110,
            alpha 48). `keras.applications` constructors work as they are
            (`backbone=keras.applications.MobileNetV2`: built untrained, with
            `classes=num_classes`).
        stem: a `BlockStem`, a dict of its arguments, None for the default
            (48 filters, one NiN layer, 32 output channels), or False for none. Its
            block size is the spec's `stem_block_size`: the key's for block-wise
            schemes, else 4 (the paper uses the same network for every scheme).
        stem_input_mode: "bytes" (the paper) or "nibbles" (exact key conversion
            for the proposed scheme; see `BlockStem`).

    Returns:
        A `keras.Model` from `(N, H, W, C)` images to `(N, num_classes)` outputs.

    Example:

    >>> model = build_classifier("key.json", backbone=functools.partial(pyramidnet, depth=20, alpha=24))
    """
    spec = _encryption_of(key)
    if spec.channels is not None and spec.channels != input_shape[-1]:
        raise KeyMismatchError(
            f"The key is for {spec.channels} channels but input_shape {tuple(input_shape)} has "
            f"{input_shape[-1]}; use a key made for {input_shape[-1]} channels."
        )
    if stem is None or isinstance(stem, dict):
        arguments = {**DEFAULT_STEM, "input_mode": stem_input_mode, **(stem or {})}
        arguments.setdefault("block_size", spec.stem_block_size)
        stem = BlockStem(**arguments, name="block_stem")
    if stem is not False and spec.record.is_block_wise and stem.block_size != spec.block_size:
        raise KeyMismatchError(
            f"The stem's block size {stem.block_size} differs from the key's block size "
            f"{spec.block_size}; a block stem must see exactly one encryption block per step."
        )
    inputs = keras.Input(input_shape, name="images")
    x = EncryptionInfo(spec.scheme, spec.fingerprint, name="encryption_info")(inputs)
    if stem is not False:
        x = stem(x)
    if backbone is None:
        backbone = functools.partial(pyramidnet, depth=110, alpha=48)
    if not isinstance(backbone, keras.Model):
        backbone = _build_backbone(backbone, tuple(x.shape[1:]), num_classes)
    outputs = backbone(x)
    return keras.Model(inputs, outputs, name=name or f"{spec.scheme}_classifier")


def encryption_info(model: keras.Model) -> EncryptionInfo | None:
    """The model's `EncryptionInfo` layer (scheme, key fingerprint), or None."""
    for layer in walk_layers(model):
        if isinstance(layer, EncryptionInfo):
            return layer
    return None


def find_block_stem(model: keras.Model) -> BlockStem:
    """The model's single `BlockStem` layer."""
    stems = [layer for layer in walk_layers(model) if isinstance(layer, BlockStem)]
    if len(stems) != 1:
        raise ValueError(f"The model has {len(stems)} BlockStem layers; exactly one is needed.")
    return stems[0]


def check_key(model: keras.Model, key: Key | EncryptionSpec | str | os.PathLike) -> None:
    """Raise KeyMismatchError unless `key` (a Key, its EncryptionSpec, a key file or a fingerprint) is the model's key.

    An `EncryptionSpec` is enough (only the fingerprint is compared), so a caller
    that holds no key material can check.
    """
    info = encryption_info(model)
    if info is None:
        raise KeyMismatchError(
            "The model records no encryption key (no EncryptionInfo layer); build it with "
            "keras_lie.models.build_classifier."
        )
    if isinstance(key, EncryptionSpec):
        fingerprint = key.fingerprint
    elif isinstance(key, str) and len(key.removeprefix("sha256:")) == 64 and not os.path.exists(key):
        fingerprint = key.removeprefix("sha256:")
    else:
        fingerprint = as_key(key).fingerprint
    if info.key_fingerprint != fingerprint:
        expected = short_fingerprint(info.key_fingerprint) if info.key_fingerprint else "no key"
        raise KeyMismatchError(
            f"These images are declared as encrypted with key {short_fingerprint(fingerprint)}, "
            f"but the model was trained for {info.scheme!r} images with key {expected}. "
            "Encrypt the images with the model's key, or convert the model with "
            "keras_lie.models.convert_key."
        )


def predict_plain(model: keras.Model, plain_images, key: Key | str | os.PathLike, **kwargs) -> np.ndarray:
    """The data holder's prediction: encrypt plain images with `key` (the model's key), then predict.

    Args:
        plain_images: uint8 (or integer-valued) `(N, H, W, C)` plain images.
        key: the model's key; another key is refused (`check_key`).
    """
    key = as_key(key)
    check_key(model, key)
    from keras_lie.schemes import get_scheme

    encrypted = np.asarray(get_scheme(key).encrypt(np.asarray(plain_images))).astype("float32")
    return model.predict(encrypted, **{"verbose": 0, **kwargs})


def predict_encrypted(model: keras.Model, encrypted_images, key_fingerprint: str, **kwargs) -> np.ndarray:
    """The operator's prediction on images already encrypted (camera frames), without the key.

    Args:
        encrypted_images: `(N, H, W, C)` images encrypted with the key whose
            fingerprint is `key_fingerprint` (an exported encryptor's metadata gives it).
        key_fingerprint: refused unless it is the fingerprint the model records.
    """
    check_key(model, key_fingerprint)
    return model.predict(np.asarray(encrypted_images).astype("float32"), **{"verbose": 0, **kwargs})


def check_data(model: keras.Model, *, encrypted: bool, manifest: DatasetManifest | None = None,
               key: Key | EncryptionSpec | None = None) -> None:
    """Refuse data whose encryption does not match the model's record (no silent plain scoring).

    Plain images need `key` (they are encrypted with it; a `Key` or its key-free
    `EncryptionSpec`, of which only the fingerprint is compared) unless the model is for
    plain images; encrypted images need their folder's manifest, whose scheme and
    key fingerprint must be the model's.

    Raises:
        KeyMismatchError: with what to give instead.
    """
    info = encryption_info(model)
    if info is None:
        return  # a model keras-lie did not build records nothing to check against
    if key is not None:
        check_key(model, key)
    if not encrypted:
        if key is None and info.scheme != "plain":
            raise KeyMismatchError(
                f"The model was trained on {info.scheme!r} images, and these images are plain: give the key "
                "(--key) to encrypt them first, or give images encrypted with the model's key (--encrypted)."
            )
        return
    if manifest is None:
        raise KeyMismatchError(
            "The encrypted images carry no keras-lie-dataset.json, so their encryption cannot be checked against "
            "the model; encrypt the folder with `keras-lie encrypt` (which writes it)."
        )
    if manifest.scheme != info.scheme or (
        info.key_fingerprint is not None and manifest.key_fingerprint != info.key_fingerprint
    ):
        expected = short_fingerprint(info.key_fingerprint) if info.key_fingerprint else "any key"
        found = short_fingerprint(manifest.key_fingerprint) if manifest.key_fingerprint else "no key"
        raise KeyMismatchError(
            f"The images are {manifest.scheme!r} with key {found}, but the model was trained for "
            f"{info.scheme!r} images with {expected}; evaluate it on images encrypted with its key."
        )


def _encryption_of(key) -> EncryptionSpec:
    """`build_classifier`'s `key`, where it enters: a path is a scheme's name unless a key file is there."""
    if isinstance(key, (str, os.PathLike)):
        if not os.path.exists(key):
            try:
                return EncryptionSpec.for_scheme(str(key))
            except KeyMismatchError:
                pass  # neither a scheme nor a file: as_key says the file does not exist
        key = as_key(key)
    return EncryptionSpec.of(key)


def _build_backbone(builder, input_shape: tuple, num_classes: int) -> keras.Model:
    """Call a backbone builder: keras-lie's `(input_shape, num_classes)`, or `keras.applications`' style.

    A `keras.applications` constructor (it takes `classes`, not `num_classes`) is
    called untrained (`weights=None`) with its own classification head.
    """
    try:
        parameters = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        parameters = {}
    if "num_classes" not in parameters and "classes" in parameters:
        return builder(input_shape=input_shape, classes=num_classes, weights=None, include_top=True)
    return builder(input_shape=input_shape, num_classes=num_classes)


def walk_layers(model: keras.Model):
    """Every layer inside `model`, depth first: nested models' layers and composite layers' `sublayers`.

    The one walker keras-lie uses (finding the stem, the encryption info, every
    BatchNormalization to recalibrate, cipher layers before export). Composite
    layers (`BlockStem`) list their own layers in a public `sublayers` property.
    """
    children = model.layers if isinstance(model, keras.Model) else getattr(model, "sublayers", ())
    for layer in children:
        yield layer
        yield from walk_layers(layer)
