"""Every path that could leak a key or change data silently: closed, and each closing tested."""

import functools
import json
import os
import pickle
import stat
import struct
import zlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_lie
from keras_lie import cli
from keras_lie.data.image_files import read_image, transform_path
from keras_lie.errors import ImageFileError, KerasLieError, KeyFileError, KeyMismatchError
from keras_lie.io.atomic_files import atomic_write_bytes
from keras_lie.keys import LearnableKey, generate_key, load_key
from keras_lie.layers import Encrypt
from keras_lie.models import build_classifier, export, pyramidnet
from keras_lie.security.rendering import picture_grid
from keras_lie.security.report import security_report

from synthetic_images import structured_images

tiny = functools.partial(pyramidnet, depth=8, alpha=8)


# -- export --------------------------------------------------------------------------------


def test_export_refuses_a_model_that_holds_the_key(tmp_path):
    key = generate_key("learnable")
    key.save(tmp_path / "key.json")
    inputs = keras.Input((16, 16, 3), dtype="uint8")
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(Encrypt(tmp_path / "key.json")(inputs)))
    with pytest.raises(KerasLieError, match="export_encryptor"):
        export(keras.Model(inputs, outputs), tmp_path / "served")
    assert not (tmp_path / "served").exists()


def test_export_force_replaces_only_a_saved_model_or_an_empty_folder(tmp_path):
    model = build_classifier("plain", backbone=tiny, input_shape=(16, 16, 3))
    precious = tmp_path / "photos"
    precious.mkdir()
    (precious / "holiday.png").write_bytes(b"not a model")
    with pytest.raises(KerasLieError, match="neither a SavedModel nor an empty folder"):
        export(model, precious, overwrite=True)
    assert (precious / "holiday.png").read_bytes() == b"not a model"
    (tmp_path / "empty").mkdir()
    export(model, tmp_path / "empty", overwrite=True)
    export(model, tmp_path / "empty", overwrite=True)  # a SavedModel now: replaceable
    assert (tmp_path / "empty" / "saved_model.pb").is_file()


# -- pictures and permissions ------------------------------------------------------------------


def test_picture_grids_never_pair_the_evaluated_key(tmp_path):
    x = structured_images(6, size=16)
    key = generate_key("learnable", block_size=4)
    security_report(x, tmp_path, keys=[key])
    assert (tmp_path / "grid_learnable_m4.png").is_file()
    # The grid is drawn with a throwaway key: the user's encryption of these images appears nowhere.
    grid = tf.io.decode_png((tmp_path / "grid_learnable_m4.png").read_bytes()).numpy()
    assert grid.size > 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert "permutation" not in json.dumps(report)


def test_picture_grid_uses_a_fresh_key_each_time(tmp_path, monkeypatch):
    drawn = []
    original = keras_lie.security.rendering.generate_key

    def spy(*args, **kwargs):
        drawn.append(original(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(keras_lie.security.rendering, "generate_key", spy)
    x = structured_images(4, size=16)
    picture_grid(x, "learnable", 4, tmp_path / "a.png", count=2)
    picture_grid(x, "learnable", 4, tmp_path / "b.png", count=2)
    assert len(drawn) == 2 and drawn[0] != drawn[1]
    assert all(key.salt is None for key in drawn)  # from the CSPRNG, not a seed


def test_files_follow_the_umask_and_secrets_are_owner_only(tmp_path):
    old = os.umask(0o077)
    try:
        written = atomic_write_bytes(tmp_path / "report.md", b"x")
        image = np.zeros((4, 4, 3), np.uint8)
        key = generate_key("block_shuffle", block_size=2)
        (tmp_path / "in").mkdir()
        keras_lie.data.image_files.write_png(tmp_path / "in" / "a.png", image)
        transform_path(tmp_path / "in", tmp_path / "out", key, "encrypt")
        transform_path(tmp_path / "out", tmp_path / "back", key, "decrypt")
    finally:
        os.umask(old)
    for path in (written, tmp_path / "out" / "a.png", tmp_path / "back" / "a.png"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    old = os.umask(0o022)
    try:
        assert stat.S_IMODE(atomic_write_bytes(tmp_path / "open.md", b"x").stat().st_mode) == 0o644
        assert stat.S_IMODE(generate_key("learnable").save(tmp_path / "k.json").stat().st_mode) == 0o600
    finally:
        os.umask(old)


# -- seed-derived keys -----------------------------------------------------------------------------


def test_a_seed_key_fingerprint_does_not_confirm_a_guessed_seed(tmp_path):
    key = generate_key("learnable", seed=48213)
    key.save(tmp_path / "key.json")
    public = load_key(tmp_path / "key.json").fingerprint
    guesses = {generate_key("learnable", seed=s).fingerprint for s in range(48200, 48230)}
    assert public not in guesses  # hashing candidate seeds finds nothing
    assert generate_key("learnable", seed=48213) == key  # the same material is still the same key
    facts = load_key(tmp_path / "key.json").describe()
    assert facts["origin"] == "seed" and facts["experiment_key"] is True
    assert generate_key("learnable").describe()["experiment_key"] is False


def test_key_info_marks_experiment_keys(tmp_path, capsys):
    assert cli.main(["keygen", "--seed", "3", "-o", str(tmp_path / "k.json")]) == 0
    capsys.readouterr()
    assert cli.main(["key-info", "--json", str(tmp_path / "k.json")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["experiment_key"] is True and printed["origin"] == "seed"


def test_old_key_files_without_salt_keep_loading(tmp_path):
    key = generate_key("learnable")
    document = json.loads(key.to_json())
    document.pop("origin")
    (tmp_path / "old.json").write_text(json.dumps(document))
    assert load_key(tmp_path / "old.json").fingerprint == key.fingerprint


# -- limits before work ---------------------------------------------------------------------------


def test_key_files_must_be_small_regular_and_shallow(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_key(tmp_path / "fifo")  # returns at once instead of waiting for a writer
    from keras_lie.keys import MAX_KEY_FILE_BYTES

    (tmp_path / "huge.json").write_bytes(b" " * (MAX_KEY_FILE_BYTES + 1))
    with pytest.raises(KeyFileError, match="more than any key file"):
        load_key(tmp_path / "huge.json")
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(KeyFileError, match="nested"):
        load_key(tmp_path / "deep.json")


def test_block_sizes_are_bounded():
    with pytest.raises(KeyMismatchError, match="at most 64"):
        generate_key("learnable", block_size=3000)
    assert cli.main(["keygen", "--block-size", "3000", "-o", "/nonexistent/k.json"]) == 1


def test_reference_pickles_are_checked_before_allocation(tmp_path):
    # A claimed shape of 10**10 with a few bytes of data: refused before any allocation.
    class Liar:
        def __reduce__(self):
            from numpy._core.multiarray import _reconstruct

            return _reconstruct, (np.ndarray, (0,), b"b"), (1, (10**10,), np.dtype("u4"), False, b"\x00" * 8)

    (tmp_path / "liar.pkl").write_bytes(pickle.dumps([[4, 4, 3], Liar()], protocol=3))
    with pytest.raises(KeyFileError, match="more than any key"):
        LearnableKey.from_reference_pickle(tmp_path / "liar.pkl")
    (tmp_path / "big.pkl").write_bytes(b"\x80\x03" + b"N" * (2 * 1024 * 1024))
    with pytest.raises(KeyFileError, match="more than any reference key pickle"):
        LearnableKey.from_reference_pickle(tmp_path / "big.pkl")
    permutation = np.random.default_rng().permutation(96).astype(np.uint32)
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps([[4, 4, 3], permutation], protocol=3))
    key = LearnableKey.from_reference_pickle(tmp_path / "ok.pkl")
    assert np.array_equal(key.permutation, permutation) and key.origin == "reference"


def _png_header_only(width, height, bit_depth=8, colour_type=2):
    """A PNG signature and IHDR claiming a size (no pixel data): the limit must act on this alone."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def test_images_over_the_pixel_limit_are_refused_from_the_header(tmp_path):
    (tmp_path / "big.png").write_bytes(_png_header_only(20000, 20000))
    with pytest.raises(ImageFileError, match="over the limit"):
        read_image(tmp_path / "big.png")
    small = tf.io.encode_png(np.zeros((8, 8, 3), np.uint8)).numpy()
    (tmp_path / "small.png").write_bytes(small)
    with pytest.raises(ImageFileError, match="over the limit"):
        read_image(tmp_path / "small.png", max_pixels=10)
    assert read_image(tmp_path / "small.png", max_pixels=64).shape == (8, 8, 3)


def test_a_folder_run_reports_each_failure_and_goes_on(tmp_path, capsys):
    source = tmp_path / "in"
    source.mkdir()
    for name in ("a", "c"):
        (source / f"{name}.png").write_bytes(tf.io.encode_png(np.zeros((8, 8, 3), np.uint8)).numpy())
    (source / "b.png").write_bytes(_png_header_only(20000, 20000))
    key = generate_key("block_shuffle", block_size=4)
    key.save(tmp_path / "key.json")
    code = cli.main(["encrypt", "--quiet", "--key", str(tmp_path / "key.json"), str(source), str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "b.png" in err and "over the limit" in err and "1 file(s) failed" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png", "keras-lie-dataset.json"]


# -- no silent changes ----------------------------------------------------------------------------


def test_sixteen_bit_pngs_and_animations_are_refused(tmp_path):
    deep = tf.io.encode_png(np.full((4, 4, 3), 40000, np.uint16)).numpy()
    (tmp_path / "deep.png").write_bytes(deep)
    with pytest.raises(ImageFileError, match="16-bit"):
        read_image(tmp_path / "deep.png")
    from PIL import Image

    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageFileError, match="animated GIF of 2 frames"):
        read_image(tmp_path / "anim.gif")


def test_encrypting_with_a_plain_key_warns(tmp_path, capsys):
    (tmp_path / "in.png").write_bytes(tf.io.encode_png(np.zeros((4, 4, 3), np.uint8)).numpy())
    with pytest.warns(UserWarning, match="hides nothing"):
        transform_path(tmp_path / "in.png", tmp_path / "out.png", generate_key("plain"), "encrypt")
    generate_key("plain").save(tmp_path / "plain.json")
    assert cli.main(["encrypt", "--key", str(tmp_path / "plain.json"), str(tmp_path / "in.png"),
                     str(tmp_path / "out2.png")]) == 0
    assert "hides nothing" in capsys.readouterr().err
