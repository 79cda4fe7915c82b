"""The encrypted dataset's manifest: written atomically, read back exactly, anything else refused."""

import json
import os
import stat

import pytest

from keras_lie.errors import DatasetUnavailableError
from keras_lie.io.dataset_manifest import (
    MANIFEST_NAME,
    DatasetManifest,
    parse_manifest,
    read_manifest,
    write_manifest,
)


def _manifest(**changes) -> DatasetManifest:
    fields = dict(scheme="learnable", block_size=4, channels=3, key_fingerprint="ab" * 32, image_size=(32, 32),
                  counts={"train": {"cat": 3, "dog": 2}, "test": {"cat": 1}}, keras_lie_version="1.2.3")
    return DatasetManifest(**{**fields, **changes})


def test_write_then_read_gives_the_same_manifest_also_from_a_split_folder(tmp_path):
    manifest = _manifest(failures=[{"file": "train/cat/x.png", "why": "truncated"}])
    path = write_manifest(tmp_path, manifest)
    assert path == tmp_path / MANIFEST_NAME
    assert read_manifest(tmp_path) == manifest
    assert read_manifest(tmp_path / "train") == manifest  # a split folder finds its parent's manifest
    assert read_manifest(tmp_path / "a" / "b") is None  # neither it nor its parent holds one
    assert manifest.class_names == ["cat", "dog"]
    assert not [name for name in os.listdir(tmp_path) if name != MANIFEST_NAME]  # no temporary file left


def test_rewriting_replaces_and_keeps_the_files_mode(tmp_path):
    write_manifest(tmp_path, _manifest())
    os.chmod(tmp_path / MANIFEST_NAME, 0o640)
    write_manifest(tmp_path, _manifest(scheme="ele"))
    assert read_manifest(tmp_path).scheme == "ele"
    assert stat.S_IMODE((tmp_path / MANIFEST_NAME).stat().st_mode) == 0o640  # a rewrite never widens it


@pytest.mark.parametrize("data, why", [
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "no 'format'"),
    (json.dumps({"format": "keras-lie-encrypted-dataset", "version": 99}).encode(), "version 99"),
    (json.dumps({"format": "keras-lie-encrypted-dataset", "version": 1, "scheme": "ele"}).encode(), "malformed"),
    (b" " * (16 * 1024 * 1024 + 1), "far too large"),
])
def test_what_keras_lie_did_not_write_is_refused_with_the_fix(data, why):
    with pytest.raises(DatasetUnavailableError, match=why) as caught:
        parse_manifest(data, "somewhere/keras-lie-dataset.json")
    assert "somewhere/keras-lie-dataset.json" in str(caught.value) and "keras-lie encrypt" in str(caught.value)


def test_the_old_module_path_still_works_and_warns():
    import keras_lie.manifest

    with pytest.warns(DeprecationWarning, match="keras_lie.io.dataset_manifest.read_manifest"):
        assert keras_lie.manifest.read_manifest is read_manifest
    with pytest.raises(AttributeError):
        keras_lie.manifest.no_such_function  # noqa: B018
