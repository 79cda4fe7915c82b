import os
import stat

import numpy as np
import pytest
import tensorflow as tf

from keras_lie._files import atomic_write_bytes
from keras_lie.errors import ImageFileError
from keras_lie.files import read_image, transform_path, write_png
from keras_lie.keys import BlockShuffleKey
from keras_lie.schemes import get_scheme

from conftest import random_images


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new", overwrite=True)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_atomic_write_mode_and_missing_folder(tmp_path):
    path = atomic_write_bytes(tmp_path / "secret", b"x", mode=0o600)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(Exception, match="does not exist"):
        atomic_write_bytes(tmp_path / "no" / "file", b"x")


def test_png_round_trip_and_refusals(tmp_path, rng):
    image = random_images(rng, (8, 8, 3))
    write_png(tmp_path / "a.png", image)
    assert np.array_equal(read_image(tmp_path / "a.png"), image)
    with pytest.raises(ImageFileError, match="Lossy"):
        write_png(tmp_path / "a.jpeg", image)
    with pytest.raises(ImageFileError, match=".png"):
        write_png(tmp_path / "a.tiff", image)
    with pytest.raises(ImageFileError, match="cannot read"):
        read_image(tmp_path / "missing.png")


def test_transform_path_report_and_jpeg_input(tmp_path, rng):
    key = BlockShuffleKey.generate(block_size=4, channels=3, seed=1)
    source = tmp_path / "in"
    (source / "a").mkdir(parents=True)
    jpeg = tf.io.encode_jpeg(random_images(rng, (8, 8, 3))).numpy()
    (source / "a" / "x.jpg").write_bytes(jpeg)
    (source / "a" / "notes.txt").write_text("not an image")  # ignored: not an image suffix
    report = transform_path(source, tmp_path / "out", key)
    assert report.ok and report.written == [tmp_path / "out" / "a" / "x.png"]
    # A JPEG input is fine (it is the plain image); the output is PNG.
    decoded = read_image(source / "a" / "x.jpg")
    assert np.array_equal(read_image(report.written[0]), get_scheme(key).encrypt(decoded))


def test_name_clash_and_empty_folder(tmp_path, rng):
    key = BlockShuffleKey.generate(block_size=4, channels=3, seed=1)
    source = tmp_path / "in"
    source.mkdir()
    with pytest.raises(ImageFileError, match="no image files"):
        transform_path(source, tmp_path / "out", key)
    write_png(source / "x.png", random_images(rng, (8, 8, 3)))
    (source / "x.jpg").write_bytes(tf.io.encode_jpeg(random_images(rng, (8, 8, 3))).numpy())
    with pytest.raises(ImageFileError, match="both be written"):
        transform_path(source, tmp_path / "out", key)
