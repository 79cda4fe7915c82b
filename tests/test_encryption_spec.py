"""EncryptionSpec (a key's public facts) and as_key (where a key or a key file enters)."""

import dataclasses

import numpy as np
import pytest

import keras_lie
from keras_lie.data.image_files import transform_path
from keras_lie.encryption_spec import EncryptionSpec
from keras_lie.errors import KeyFileError, KeyMismatchError
from keras_lie.io.dataset_manifest import read_manifest
from keras_lie.keys import CatMapKey, ELEKey, LearnableKey, PlainKey, as_key

from conftest import write_image_tree


def test_a_spec_holds_the_public_facts_of_each_kind_of_key():
    learnable = LearnableKey.generate(8, seed=1)
    assert EncryptionSpec.of(learnable) == EncryptionSpec("learnable", 8, 3, learnable.fingerprint, None)
    ele = ELEKey.generate(4, seed=1, image_size=(32, 32))
    assert EncryptionSpec.of(ele) == EncryptionSpec("ele", 4, 3, ele.fingerprint, (32, 32))
    cat_map = CatMapKey.generate(seed=1)
    assert EncryptionSpec.of(cat_map).block_size is None  # a whole-image scheme has no block size
    assert EncryptionSpec.of(None) == EncryptionSpec("plain")
    # Only facts: no field can hold key material.
    assert [field.name for field in dataclasses.fields(EncryptionSpec)] == [
        "scheme", "block_size", "channels", "fingerprint", "image_size"]


def test_the_stem_takes_its_block_size_from_the_spec():
    assert EncryptionSpec.of(LearnableKey.generate(8, seed=1)).stem_block_size == 8
    assert EncryptionSpec.of(ELEKey.generate(8, seed=1, image_size=(32, 32))).stem_block_size == 4  # paper's network
    assert EncryptionSpec.of(PlainKey()).stem_block_size == 4
    assert EncryptionSpec.for_scheme("proposed") == EncryptionSpec("learnable", 4)  # aliases; the keys' default M
    assert EncryptionSpec.for_scheme("block_shuffle", block_size=2).stem_block_size == 2


def test_a_trainer_without_the_key_gets_the_same_spec_from_the_manifest(tmp_path, rng):
    key = LearnableKey.generate(4, seed=2)
    transform_path(write_image_tree(tmp_path / "plain", rng, size=16), tmp_path / "encrypted", key)
    from_manifest = EncryptionSpec.of(read_manifest(tmp_path / "encrypted"))
    assert dataclasses.replace(from_manifest, image_size=None) == EncryptionSpec.of(key)
    assert from_manifest.image_size == (16, 16)
    # build_classifier gives the same model record from either.
    models = [keras_lie.build_classifier(spec, input_shape=(16, 16, 3), backbone=_tiny, stem={"filters": 8})
              for spec in (from_manifest, key)]
    infos = [keras_lie.models.encryption_info(model) for model in models]
    assert infos[0].get_config() | {"name": ""} == infos[1].get_config() | {"name": ""}
    assert [keras_lie.models.find_block_stem(model).block_size for model in models] == [4, 4]


def _tiny(input_shape, num_classes):
    import keras

    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.GlobalAveragePooling2D()(inputs)))


def test_a_spec_refuses_what_is_not_a_description():
    with pytest.raises(KeyMismatchError, match="learnable"):
        EncryptionSpec.for_scheme("rot13")
    with pytest.raises(TypeError, match="Key, a DatasetManifest"):
        EncryptionSpec.of(42)
    with pytest.raises(TypeError, match="load_key"):
        EncryptionSpec.from_key("key.json")


def test_as_key_passes_a_key_and_loads_a_key_file_once(tmp_path):
    key = LearnableKey.generate(4, seed=3)
    assert as_key(key) is key
    key.save(tmp_path / "key.json")
    assert as_key(tmp_path / "key.json") == key and as_key(str(tmp_path / "key.json")) == key
    with pytest.raises(KeyFileError, match="does not exist"):
        as_key(tmp_path / "missing.json")
    with pytest.raises(KeyFileError, match="path to a key file"):
        as_key(np.zeros(3))


def test_a_spec_is_enough_to_check_a_model_key():
    from keras_lie.models import build_classifier, check_data, check_key

    key, other = LearnableKey.generate(4, seed=4), LearnableKey.generate(4, seed=5)
    model = build_classifier(EncryptionSpec.of(key), input_shape=(16, 16, 3), backbone=_tiny, stem={"filters": 8})
    check_key(model, EncryptionSpec.of(key))
    check_data(model, encrypted=False, key=EncryptionSpec.of(key))
    with pytest.raises(KeyMismatchError, match="the model was trained"):
        check_key(model, EncryptionSpec.of(other))
