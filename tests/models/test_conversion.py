import functools

import numpy as np
import pytest

import keras_lie
from keras_lie.errors import KeyMismatchError
from keras_lie.keys import generate_key
from keras_lie.models import build_classifier, convert_key, encryption_info, find_block_stem, from_plain, pyramidnet

tiny = functools.partial(pyramidnet, depth=8, alpha=8, classifier_activation=None)


def randomized(model, seed=0):
    """Large random weights, so that a wrong conversion cannot hide in tiny logits."""
    rng = np.random.default_rng(seed)
    stem = find_block_stem(model)
    kernel, bias = stem.block_conv.get_weights()
    stem.block_conv.set_weights([rng.normal(0, 1, kernel.shape), rng.normal(0, 1, bias.shape)])
    return model


CASES = [("learnable", "nibbles"), ("block_shuffle", "bytes"), ("block_shuffle", "nibbles")]


@pytest.mark.parametrize("scheme, mode", CASES)
def test_convert_key_gives_the_same_logits(scheme, mode):
    old, new = generate_key(scheme, seed=1), generate_key(scheme, seed=2)
    model = randomized(build_classifier(old, backbone=tiny, input_shape=(16, 16, 3), stem_input_mode=mode))
    x = np.random.default_rng(5).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    before = model.predict(keras_lie.encrypt(x, old).astype("float32"), verbose=0)
    converted = convert_key(model, old, new)
    after = converted.predict(keras_lie.encrypt(x, new).astype("float32"), verbose=0)
    assert np.abs(before).max() > 0.1
    assert np.abs(after - before).max() < 1e-4
    assert encryption_info(converted).key_fingerprint == new.fingerprint
    assert encryption_info(model).key_fingerprint == old.fingerprint  # the original is unchanged
    # The converted model is not simply the old one: on old-key images it now differs.
    wrong = converted.predict(keras_lie.encrypt(x, old).astype("float32"), verbose=0)
    assert np.abs(wrong - before).max() > 1e-2


@pytest.mark.parametrize("scheme, mode", CASES)
def test_from_plain(scheme, mode):
    new = generate_key(scheme, seed=4)
    model = randomized(build_classifier("plain", backbone=tiny, input_shape=(16, 16, 3), stem_input_mode=mode))
    x = np.random.default_rng(6).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    before = model.predict(x.astype("float32"), verbose=0)
    after = from_plain(model, new).predict(keras_lie.encrypt(x, new).astype("float32"), verbose=0)
    assert np.abs(after - before).max() < 1e-4


def test_no_exact_conversion_raises_clearly():
    old, new = generate_key("learnable", seed=1), generate_key("learnable", seed=2)
    model = build_classifier(old, backbone=tiny, input_shape=(16, 16, 3), stem_input_mode="bytes")
    with pytest.raises(KeyMismatchError, match="stem_input_mode='nibbles'"):
        convert_key(model, old, new)
    cat = generate_key("cat_map", seed=1)
    plain_model = build_classifier("plain", backbone=tiny, input_shape=(16, 16, 3))
    with pytest.raises(KeyMismatchError, match="cat map"):
        from_plain(plain_model, cat)
    other_size = generate_key("learnable", block_size=2, seed=3)
    nibble_model = build_classifier(old, backbone=tiny, input_shape=(16, 16, 3), stem_input_mode="nibbles")
    with pytest.raises(KeyMismatchError, match="blocks"):
        convert_key(nibble_model, old, other_size)
