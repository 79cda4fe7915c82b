"""How much of the key a trained model's first convolution gives away.

Threat model: the attacker gets the trained classifier (weights included) but
no images and no key. A `BlockStem`'s first convolution has one kernel row per
encrypted input position of a block. Training makes the rows of informative
inputs large: for the proposed scheme, the encrypted nibbles that come from
plain upper nibbles. So the row norms rank the positions by "upper-ness", and
the signs of the rows (along their principal direction) give reversal parities.
The scores below say how well that works, beside what the ciphertext-only
attack gets from encrypted images alone.
"""

from __future__ import annotations

import numpy as np

from keras_lie.blocks import reversal_parity
from keras_lie.keys import LearnableKey
from keras_lie.models import find_block_stem
from keras_lie.models.conversion import block_kernel_rows
from keras_lie.security.ciphertext_only import NibbleModel


def true_nibble_structure(key: LearnableKey) -> tuple[np.ndarray, np.ndarray]:
    """For each encrypted nibble position: from an upper nibble?, and its reversal parity (+1/-1)."""
    k = key.permutation
    return k >= len(k) // 2, np.where(reversal_parity(k, key.reversal_mask), -1.0, 1.0)


def auc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the ROC curve: how well `scores` rank true positions above false ones."""
    ranks = np.argsort(np.argsort(scores)) + 1.0
    positives = truth.sum()
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def score_nibble_model(model: NibbleModel, key: LearnableKey) -> dict:
    """Accuracy of an estimated upper-nibble set and its parities against the true key."""
    upper, parity = true_nibble_structure(key)
    predicted = np.zeros_like(upper)
    predicted[model.upper_positions] = True
    correct = upper[model.upper_positions]
    agreement = np.mean(model.parity[correct] == parity[model.upper_positions][correct]) if correct.any() else 0.5
    return {
        "upper_nibble_accuracy": float(np.mean(predicted == upper)),
        "parity_accuracy": float(max(agreement, 1 - agreement)),  # up to one global sign
    }


def kernel_leakage(model, key: LearnableKey) -> dict:
    """Read the key's nibble structure off a trained model's BlockStem kernel.

    Returns AUC and accuracy of finding upper-nibble positions from row norms
    (0.5 is chance), and the parity accuracy among them (0.5 is chance). For a
    `bytes` stem the question becomes which encrypted bytes carry an upper
    nibble of the plain image in their own upper half.
    """
    stem = find_block_stem(model)
    kernel = np.asarray(stem.block_conv.get_weights()[0])
    m, c = stem.block_size, stem.input_channels
    rows = kernel.reshape(-1, kernel.shape[-1])[block_kernel_rows(kernel, m, c, stem.input_mode)]
    norms = np.linalg.norm(rows, axis=1)
    upper, parity = true_nibble_structure(key)
    d = len(upper) // 2
    if stem.input_mode == "bytes":
        truth = upper[d:]  # encrypted byte j's upper half comes from a plain upper nibble
        return {"mode": "bytes", "upper_nibble_auc": auc(norms, truth), "chance": 0.5}
    top = np.sort(np.argsort(norms)[-d:])
    vectors = rows[top] - rows[top].mean(axis=0)
    _, _, components = np.linalg.svd(vectors, full_matrices=False)
    estimate = NibbleModel(top, np.where(vectors @ components[0] >= 0, 1.0, -1.0))
    return {"mode": "nibbles", "upper_nibble_auc": auc(norms, upper), **score_nibble_model(estimate, key),
            "chance": 0.5}
