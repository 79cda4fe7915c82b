"""The operator's side: class predictions for encrypted images from a trained classifier."""

from __future__ import annotations

import numpy as np

from keras_lie.errors import ImageShapeError, KeyMismatchError
from keras_lie.models.classifier import encryption_info, find_block_stem

# Pooled over the images given, neighbouring pixels on either side of a block boundary correlate at
# 0.85 in plain CIFAR-10 images and at -0.07 to 0.38 in images encrypted with any scheme (M = 4, 8).
PLAIN_BOUNDARY_CORRELATION = 0.7


def boundary_correlation(images, block_size: int) -> float:
    """Correlation of horizontally neighbouring grey pixels across block boundaries, averaged over images.

    Plain images keep it high (natural images are smooth there); every keras-lie
    scheme moves or scrambles whole blocks, so encrypted images lose it. One
    image is a noisy sample: judge a batch.
    """
    grey = np.asarray(images, np.float64).mean(axis=-1)
    m = int(block_size)
    left = grey[:, :, m - 1 : -1 : m].reshape(len(grey), -1)
    right = grey[:, :, m::m].reshape(len(grey), -1)
    if left.shape[1] < 2:
        return 0.0
    left = left - left.mean(axis=1, keepdims=True)
    right = right - right.mean(axis=1, keepdims=True)
    denominator = np.sqrt((left * left).sum(axis=1) * (right * right).sum(axis=1))
    return float(np.mean((left * right).sum(axis=1) / np.maximum(denominator, 1e-9)))


def predict_classes(model, images, *, class_names: list[str] | None = None, top: int = 1, batch_size: int = 64,
                    check_plain: bool = True) -> list[list[tuple[str, float]]]:
    """The `top` classes and their probabilities for each encrypted image.

    Args:
        model: a classifier keras-lie built (or any Keras model taking uint8-valued
            images and giving class scores).
        images: uint8 (N, H, W, C) images encrypted with the model's key, of the
            model's input size.
        class_names: names by label (default: the label numbers as text).
        top: how many classes per image, most probable first.
        check_plain: refuse images that look plain for a model trained on encrypted
            ones (see `boundary_correlation`); False for images known to be encrypted.

    Returns:
        For each image, `top` pairs (class name, probability).

    Raises:
        ImageShapeError: images of another size than the model's input.
        KeyMismatchError: plain-looking images for a model of an encryption scheme.
    """
    images = np.asarray(images)
    expected = tuple(model.input_shape[1:])
    if images.ndim != 4 or any(e is not None and e != a for e, a in zip(expected, images.shape[1:], strict=True)):
        raise ImageShapeError(f"The model takes images of shape {expected}; got {images.shape[1:]}. Give frames of "
                              "the size the model was trained on (encrypt them at that size).")
    info = encryption_info(model)
    if check_plain and info is not None and info.scheme != "plain":
        block_size = _block_size(model)
        correlation = boundary_correlation(images, block_size)
        if correlation >= PLAIN_BOUNDARY_CORRELATION:
            raise KeyMismatchError(
                f"These images look plain (neighbouring pixels across {block_size}-pixel block boundaries correlate "
                f"at {correlation:.2f}; encrypted images at about 0), but the model was trained on {info.scheme!r} "
                "images. Encrypt them with the model's key first (keras-lie encrypt --key KEY), or, if they are "
                "encrypted, say so (--not-plain, check_plain=False)."
            )
    scores = np.asarray(model.predict(images.astype(np.float32), batch_size=batch_size, verbose=0), np.float64)
    probabilities = scores if _are_probabilities(scores) else _softmax(scores)
    names = class_names or [str(i) for i in range(probabilities.shape[-1])]
    order = np.argsort(-probabilities, axis=-1, kind="stable")[:, :top]
    return [[(names[c], float(row[c])) for c in ranked] for row, ranked in zip(probabilities, order, strict=True)]


def _block_size(model) -> int:
    try:
        return int(find_block_stem(model).block_size)
    except ValueError:  # no stem (say, a ViT on block tokens): the usual block side
        return 4


def _are_probabilities(scores: np.ndarray) -> bool:
    return bool((scores >= 0).all() and np.allclose(scores.sum(axis=-1), 1.0, atol=1e-3))


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
