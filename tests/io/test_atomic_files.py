"""Atomic writes: complete or absent, never through a link, never wider than asked or than before."""

import os
import stat

import pytest

from keras_lie.io.atomic_files import atomic_write_batch, atomic_write_bytes


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_an_overwritten_file_keeps_its_narrower_mode(tmp_path):
    target = tmp_path / "key.json"
    atomic_write_bytes(target, b"one", mode=0o600)
    assert _mode(target) == 0o600
    os.chmod(target, 0o400)  # the owner made it read-only
    atomic_write_bytes(target, b"two", mode=0o600, overwrite=True)
    assert target.read_bytes() == b"two" and _mode(target) == 0o400
    os.chmod(target, 0o644)  # wider than a secret may be: the mode asked for wins
    atomic_write_bytes(target, b"three", mode=0o600, overwrite=True)
    assert _mode(target) == 0o600


def test_a_batch_keeps_each_files_narrower_mode_and_refuses_without_overwrite(tmp_path):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    assert atomic_write_batch([(first, b"1"), (second, b"2")]) == [None, None]
    os.chmod(first, 0o600)
    outcomes = atomic_write_batch([(first, b"x"), (second, b"y")], overwrite=True)
    assert outcomes == [None, None] and _mode(first) == 0o600 and first.read_bytes() == b"x"
    refused = atomic_write_batch([(first, b"z")])
    assert isinstance(refused[0], FileExistsError) and first.read_bytes() == b"x"
    assert sorted(os.listdir(tmp_path)) == ["a.png", "b.png"]  # no temporary file left


def test_an_existing_file_is_never_overwritten_unasked(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="overwrite"):
        atomic_write_bytes(target, b"theirs")
    assert target.read_bytes() == b"mine"
