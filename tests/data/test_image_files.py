import os
import stat

import numpy as np
import pytest
import tensorflow as tf

from keras_lie.data.image_files import read_image, transform_path, write_png
from keras_lie.errors import ImageFileError
from keras_lie.io.atomic_files import atomic_write_bytes
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
    assert report.jpeg_inputs == 1 and "decoded by TensorFlow" in report.jpeg_note  # said, not silent
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


def test_atomic_write_batch_writes_each_file_or_reports_why(tmp_path):
    from keras_lie.io.atomic_files import atomic_write_batch

    (tmp_path / "taken.png").write_bytes(b"old")
    outcomes = atomic_write_batch([(tmp_path / "a.png", b"A"), (tmp_path / "taken.png", b"new"),
                                   (tmp_path / "missing" / "b.png", b"B"), (tmp_path / "c.png", b"C")])
    assert outcomes[0] is None and outcomes[3] is None
    assert isinstance(outcomes[1], FileExistsError) and (tmp_path / "taken.png").read_bytes() == b"old"
    assert outcomes[2] is not None
    assert (tmp_path / "a.png").read_bytes() == b"A" and (tmp_path / "c.png").read_bytes() == b"C"
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_folder_runs_batch_mixed_sizes_and_keep_per_file_results(tmp_path):
    rng = np.random.default_rng(0)
    source = tmp_path / "in"
    images = {}
    for name, shape in {"a/0.png": (8, 8, 3), "a/1.png": (16, 8, 3), "b/2.png": (8, 8, 3), "b/3.png": (8, 8, 4)}.items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        images[name] = rng.integers(0, 256, shape, dtype=np.uint8)
        path.write_bytes(tf.io.encode_png(images[name]).numpy())
    key = BlockShuffleKey.generate(block_size=4, channels=3)
    report = transform_path(source, tmp_path / "out", key, "encrypt")
    assert len(report.written) == 3 and [p.name for p, _ in report.failures] == ["3.png"]
    scheme = get_scheme(key)
    for name in ("a/0.png", "a/1.png", "b/2.png"):  # batched by size, each exact
        written = read_image(tmp_path / "out" / name)
        np.testing.assert_array_equal(written, scheme.encrypt(images[name]))


def test_folder_runs_count_the_files_they_skip(tmp_path):
    source = tmp_path / "in" / "cat"
    source.mkdir(parents=True)
    (source / "a.png").write_bytes(tf.io.encode_png(np.zeros((4, 4, 3), np.uint8)).numpy())
    (source / "notes.txt").write_text("not an image")
    (source / "b.webp").write_bytes(b"RIFF....WEBP")
    report = transform_path(tmp_path / "in", tmp_path / "out", BlockShuffleKey.generate(block_size=2), "encrypt")
    assert len(report.written) == 1 and sorted(p.name for p in report.skipped) == ["b.webp", "notes.txt"]


def _small_tree(root, rng, count=3):
    for index in range(count):
        path = root / "cls" / f"{index}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tf.io.encode_png(random_images(rng, (8, 8, 3))).numpy())


def test_a_new_output_folder_appears_whole_and_leaves_no_staging(tmp_path, rng):
    _small_tree(tmp_path / "in", rng)
    report = transform_path(tmp_path / "in", tmp_path / "out", BlockShuffleKey.generate(block_size=4), "encrypt")
    assert report.ok and sorted(p.name for p in report.written) == ["0.png", "1.png", "2.png"]
    assert all(path.is_file() and tmp_path / "out" in path.parents for path in report.written)
    assert report.manifest == tmp_path / "out" / "keras-lie-dataset.json" and report.manifest.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]  # no staging folder left
    mode = 0o666 & ~_umask()
    assert {stat.S_IMODE(os.stat(path).st_mode) for path in report.written} == {mode}  # through the umask
    assert stat.S_IMODE(os.stat(tmp_path / "out").st_mode) == 0o777 & ~_umask()


def test_an_interrupted_run_leaves_neither_output_nor_staging(tmp_path, rng, monkeypatch):
    import keras_lie.data.image_files as files

    _small_tree(tmp_path / "in", rng)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(files, "_encode_png", interrupted)
    with pytest.raises(KeyboardInterrupt):
        transform_path(tmp_path / "in", tmp_path / "out", BlockShuffleKey.generate(block_size=4), "encrypt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_an_output_folder_made_meanwhile_keeps_the_staged_tree(tmp_path, rng, monkeypatch):
    import keras_lie.io.atomic_files as private_files

    _small_tree(tmp_path / "in", rng)
    real_sync = os.sync

    def someone_fills_the_destination():
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "theirs.txt").write_text("keep me")
        real_sync()

    monkeypatch.setattr(private_files.os, "sync", someone_fills_the_destination)
    with pytest.raises(Exception, match="appeared while") as raised:
        transform_path(tmp_path / "in", tmp_path / "out", BlockShuffleKey.generate(block_size=4), "encrypt")
    assert (tmp_path / "out" / "theirs.txt").read_text() == "keep me"
    staged = [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    assert len(staged) == 1 and str(staged[0]) in str(raised.value)
    assert len(list(staged[0].rglob("*.png"))) == 3


def test_an_existing_output_folder_is_written_file_by_file(tmp_path, rng):
    _small_tree(tmp_path / "in", rng)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "theirs.txt").write_text("keep me")
    report = transform_path(tmp_path / "in", tmp_path / "out", BlockShuffleKey.generate(block_size=4), "encrypt")
    assert report.ok and len(report.written) == 3
    assert (tmp_path / "out" / "theirs.txt").read_text() == "keep me"


def test_a_run_where_every_file_fails_creates_no_folder(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.png").write_bytes(b"not a png")
    report = transform_path(tmp_path / "in", tmp_path / "out", BlockShuffleKey.generate(block_size=4), "encrypt")
    assert not report.ok and not report.written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def test_an_encrypted_folders_manifest_is_checked_before_anything_is_written(image_tree, tmp_path):
    from keras_lie.errors import KeyMismatchError
    from keras_lie.keys import LearnableKey

    key, other = LearnableKey.generate(4), LearnableKey.generate(4)
    encrypted = tmp_path / "enc"
    transform_path(image_tree, encrypted, key)
    # Another key: refused with both fingerprints, nothing written.
    with pytest.raises(KeyMismatchError, match=f"{key.fingerprint}.*{other.fingerprint}"):
        transform_path(encrypted, tmp_path / "noise", other, "decrypt")
    with pytest.raises(KeyMismatchError):  # a single file of the folder too
        transform_path(next((encrypted / "train").rglob("*.png")), tmp_path / "one.png", other, "decrypt")
    # Encrypting an encrypted folder (or a split of it) again: refused.
    for source in (encrypted, encrypted / "train"):
        with pytest.raises(ImageFileError, match="already encrypted"):
            transform_path(source, tmp_path / "again", other)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc", "tree"]
    # The folder's own key decrypts it.
    report = transform_path(encrypted, tmp_path / "back", key, "decrypt")
    assert report.ok and report.written


def test_a_failed_write_names_the_output(image_tree, tmp_path, monkeypatch):
    import keras_lie.data.image_files as files

    def denied(items, *, executor=None, overwrite=False):
        return [PermissionError(13, "Permission denied") for _ in items]

    (tmp_path / "out").mkdir()
    monkeypatch.setattr(files, "atomic_write_batch", denied)
    report = transform_path(image_tree / "train" / "cat" / "0000.png", tmp_path / "out", BlockShuffleKey.generate(4))
    (_, reason), = report.failures
    assert f"cannot write {tmp_path / 'out' / '0000.png'}: Permission denied" in reason


def test_an_interrupted_run_into_an_existing_folder_is_resumed(image_tree, tmp_path, monkeypatch):
    """Ctrl-C part-way leaves complete files only; --resume finishes and the manifest counts the whole folder."""
    import keras_lie.io.atomic_files as private_files
    from keras_lie.io.dataset_manifest import read_manifest
    from keras_lie.keys import LearnableKey

    key = LearnableKey.generate(4)
    out = tmp_path / "out"
    out.mkdir()
    real_replace, renamed = os.replace, []

    def interrupted_after_five(source, target):
        if len(renamed) == 5:
            raise KeyboardInterrupt
        renamed.append(target)
        real_replace(source, target)

    monkeypatch.setattr(private_files.os, "replace", interrupted_after_five)
    with pytest.raises(KeyboardInterrupt):
        transform_path(image_tree, out, key)
    monkeypatch.undo()
    written = sorted(out.rglob("*.png"))
    assert len(written) == 5 and not [p for p in out.rglob(".*") if p.is_file()]  # no temporary left behind
    stale = out / "test" / "cat" / ".0000.png.0123456789ab.tmp"  # as a killed (not interrupted) run leaves
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half")
    # Without --resume: one error that says how many exist and what to do; nothing written.
    with pytest.raises(ImageFileError, match=r"5 of the 24 outputs already exist.*--resume"):
        transform_path(image_tree, out, key)
    first = {path: path.read_bytes() for path in written}
    report = transform_path(image_tree, out, key, resume=True)
    assert report.ok and len(report.resumed) == 5 and len(report.written) == 19 and report.removed_temporaries == 1
    assert not stale.exists() and {path: path.read_bytes() for path in written} == first  # kept, not rewritten
    manifest = read_manifest(out)
    assert manifest.counts == {"train": {"cat": 4, "dog": 4, "frog": 4}, "test": {"cat": 4, "dog": 4, "frog": 4}}
    for path in out.rglob("*.png"):
        source = image_tree / path.relative_to(out)
        assert np.array_equal(get_scheme(key).decrypt(read_image(path)[None])[0], read_image(source))
    # A resumed folder under another key is refused by its manifest.
    from keras_lie.errors import KeyMismatchError

    with pytest.raises(KeyMismatchError, match="mix two keys"):
        transform_path(image_tree, out, LearnableKey.generate(4), resume=True)
    # Resuming a finished folder writes nothing more.
    again = transform_path(image_tree, out, key, resume=True)
    assert again.ok and not again.written and len(again.resumed) == 24


def test_resume_rewrites_nothing_that_differs_and_says_so(image_tree, tmp_path):
    from keras_lie.keys import LearnableKey

    key = LearnableKey.generate(4)
    out = tmp_path / "out"
    transform_path(image_tree, out, key)
    odd = out / "train" / "dog" / "0001.png"
    odd.write_bytes(tf.io.encode_png(np.zeros((8, 8, 3), np.uint8)).numpy())  # not what this run writes
    report = transform_path(image_tree, out, key, resume=True)
    assert [path for path, _ in report.failures] == [image_tree / "train" / "dog" / "0001.png"]
    assert "already exists" in report.failures[0][1] and len(report.resumed) == 23


def test_the_old_module_path_still_works_and_warns():
    import keras_lie.data.image_files as image_files
    import keras_lie.files

    with pytest.warns(DeprecationWarning, match="keras_lie.data.image_files.transform_path"):
        assert keras_lie.files.transform_path is image_files.transform_path
    with pytest.raises(AttributeError):
        keras_lie.files.no_such_function  # noqa: B018
