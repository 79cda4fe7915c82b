"""Every keras-lie layer through the shared harness (tests/layers/harness.py)."""

import numpy as np
import pytest

import keras_lie.layers
import keras_lie.models
from keras_lie.keys import generate_key
from keras_lie.layers import (
    BlockStem,
    BlockTokens,
    Decrypt,
    DepthToSpace,
    Encrypt,
    EncryptionInfo,
    PositionwiseDense,
)
from keras_lie.models import ChannelPadding, ReplicatePadding2D, ShakeDrop, StochasticDepth

from harness import check_layer

RNG = np.random.default_rng(0)
UINT8 = RNG.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
FLOAT = RNG.normal(size=(2, 8, 8, 4)).astype("float32")


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    return generate_key("learnable").save(tmp_path_factory.mktemp("key") / "key.json")


CASES = {
    "Encrypt": (lambda key: Encrypt(key), UINT8),
    "Decrypt": (lambda key: Decrypt(key), UINT8),
    "Encrypt float": (lambda key: Encrypt(key), UINT8.astype("float32")),
    "BlockStem bytes": (lambda key: BlockStem(block_size=4, filters=8, output_channels=5), UINT8.astype("float32")),
    "BlockStem nibbles": (lambda key: BlockStem(block_size=4, filters=8, output_channels=5, input_mode="nibbles",
                                                input_normalization=True), UINT8.astype("float32")),
    "BlockTokens bytes": (lambda key: BlockTokens(4), UINT8),
    "BlockTokens nibbles": (lambda key: BlockTokens(4, input_mode="nibbles"), UINT8.astype("float32")),
    "ChannelPadding": (lambda key: ChannelPadding(6), FLOAT),
    "PositionwiseDense": (lambda key: PositionwiseDense(5), FLOAT.reshape(2, 16, 16)),
    "DepthToSpace": (lambda key: DepthToSpace(2), FLOAT),
    "EncryptionInfo": (lambda key: EncryptionInfo("learnable", "ab" * 32), FLOAT),
    "ReplicatePadding2D": (lambda key: ReplicatePadding2D(1), FLOAT),
    "ShakeDrop": (lambda key: ShakeDrop(0.5), FLOAT),
    "StochasticDepth": (lambda key: StochasticDepth(0.5, separate_from=2), FLOAT),
}


def test_every_public_layer_is_covered():
    import keras

    layer_names = {name for module in (keras_lie.layers, keras_lie.models) for name in module.__all__
                   if isinstance(getattr(module, name), type) and issubclass(getattr(module, name), keras.layers.Layer)}
    covered = {case.split()[0] for case in CASES}
    assert layer_names <= covered, layer_names - covered
    assert {"ShakeDrop", "Encrypt"} <= layer_names


def test_backbone_layers_moved_to_models_still_load_from_layers_with_a_warning():
    for name in ("ChannelPadding", "ReplicatePadding2D", "ShakeDrop", "StochasticDepth"):
        with pytest.warns(DeprecationWarning, match=f"keras_lie.models.{name}"):
            assert getattr(keras_lie.layers, name) is getattr(keras_lie.models, name)
    with pytest.raises(AttributeError):
        keras_lie.layers.NoSuchLayer  # noqa: B018


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_passes_the_harness(case, key_file, tmp_path):
    make, inputs = CASES[case]
    check_layer(lambda: make(key_file), inputs, tmp_path)


def test_cipher_layers_from_in_memory_keys_clone_and_refuse_in_a_new_process(tmp_path):
    import keras

    key = generate_key("learnable")  # never saved
    inputs = keras.Input((16, 16, 3), dtype="uint8")
    model = keras.Model(inputs, Decrypt(key)(Encrypt(key)(inputs)))
    clone = keras.models.clone_model(model)
    np.testing.assert_array_equal(np.asarray(clone(UINT8)), UINT8)
    config = model.layers[1].get_config()
    assert config["key"] is None and "permutation" not in str(config)
    from keras_lie.errors import KeyFileError
    from keras_lie.layers import base_cipher_layer

    base_cipher_layer._registered_keys.clear()  # as a new process would be
    with pytest.raises((KeyFileError, TypeError), match="register_key"):  # Keras wraps from_config errors
        Encrypt.from_config(config)
    keras_lie.layers.register_key(key)
    assert Encrypt.from_config(config).key == key
