import json
import os
import stat

import numpy as np
import pytest
import tensorflow as tf

from keras_lie import cli
from keras_lie.data.image_files import read_image
from keras_lie.keys import load_key
from keras_lie.schemes import get_scheme

from conftest import random_images


def run(*args):
    return cli.main([str(a) for a in args])


def write_png(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(image).numpy())


@pytest.fixture
def key_path(tmp_path):
    path = tmp_path / "key.json"
    assert run("keygen", "--scheme", "learnable", "--block-size", "4", "--channels", "3", "-o", path) == 0
    return path


@pytest.fixture
def image_tree(tmp_path, rng):
    root = tmp_path / "images"
    for label in ("cat", "dog"):
        for i in range(3):
            write_png(root / label / f"{i}.png", random_images(rng, (16, 16, 3)))
    return root


def test_keygen_and_key_info(key_path, capsys):
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    key = load_key(key_path)
    assert run("key-info", key_path, "--json") == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["fingerprint"] == key.fingerprint and facts["scheme"] == "learnable"
    assert run("key-info", key_path) == 0
    text = capsys.readouterr().out
    assert key.short_fingerprint in text and "permutation" not in text


def test_keygen_refuses_overwrite_and_bad_scheme(key_path, capsys):
    before = key_path.read_bytes()
    assert run("keygen", "-o", key_path) == 1
    assert "already exists" in capsys.readouterr().err
    assert key_path.read_bytes() == before
    assert run("keygen", "--scheme", "rot13", "-o", key_path.parent / "x.json") == 1
    assert "Unknown scheme" in capsys.readouterr().err


def test_keygen_from_reference(reference_files, tmp_path):
    key_pickle, _ = reference_files
    assert run("keygen", "--from-reference", key_pickle, "-o", tmp_path / "ref.json") == 0
    assert load_key(tmp_path / "ref.json").permutation.size == 96


def test_encrypt_decrypt_folder_round_trips_bit_for_bit(key_path, image_tree, tmp_path):
    encrypted, decrypted = tmp_path / "enc", tmp_path / "dec"
    assert run("encrypt", "--key", key_path, image_tree, encrypted, "--quiet") == 0
    assert run("decrypt", "--key", key_path, encrypted, decrypted, "--quiet") == 0
    scheme = get_scheme(key_path)
    for original in image_tree.rglob("*.png"):
        relative = original.relative_to(image_tree)
        enc = read_image(encrypted / relative)
        assert np.array_equal(enc, scheme.encrypt(read_image(original)))
        assert np.array_equal(read_image(decrypted / relative), read_image(original))


def test_a_second_run_into_the_folder_says_how_to_resume(key_path, image_tree, tmp_path, capsys):
    encrypted = tmp_path / "enc"
    assert run("encrypt", "--key", key_path, image_tree, encrypted, "--quiet") == 0
    outputs = sorted(encrypted.rglob("*.png"))
    outputs[0].unlink()  # as if the run had stopped before it
    capsys.readouterr()
    assert run("encrypt", "--key", key_path, image_tree, encrypted, "--quiet") == 1
    err = capsys.readouterr().err
    n = len(outputs)
    assert len(err.strip().splitlines()) == 1 and f"{n - 1} of the {n} outputs already exist" in err and "--resume" in err
    assert run("encrypt", "--key", key_path, image_tree, encrypted, "--quiet", "--resume") == 0
    assert f"{n - 1} file(s) were complete; encrypted 1 more" in capsys.readouterr().out
    assert outputs[0].is_file()


def test_single_file_and_refusals(key_path, image_tree, tmp_path, capsys):
    source = image_tree / "cat" / "0.png"
    assert run("encrypt", "--key", key_path, source, tmp_path / "one.png") == 0
    assert run("encrypt", "--key", key_path, source, tmp_path / "one.jpg") == 1
    assert "Lossy" in capsys.readouterr().err
    assert not (tmp_path / "one.jpg").exists()
    # An existing output is kept unless --overwrite.
    before = (tmp_path / "one.png").read_bytes()
    assert run("encrypt", "--key", key_path, image_tree / "cat" / "1.png", tmp_path / "one.png") == 1
    assert (tmp_path / "one.png").read_bytes() == before
    # The input itself is never overwritten, even with --overwrite.
    original = source.read_bytes()
    assert run("encrypt", "--key", key_path, source, source, "--overwrite") == 1
    assert source.read_bytes() == original
    # Output folder inside the input tree.
    assert run("encrypt", "--key", key_path, image_tree, image_tree / "out") == 1
    assert "inside the input folder" in capsys.readouterr().err


def test_bad_files_are_reported_per_file(key_path, image_tree, tmp_path, capsys):
    (image_tree / "dog" / "broken.png").write_bytes(b"junk")
    write_png(image_tree / "dog" / "odd.png", np.zeros((15, 16, 3), np.uint8))
    write_png(image_tree / "dog" / "gray.png", np.zeros((16, 16, 1), np.uint8))  # expanded to RGB, exactly
    write_png(image_tree / "dog" / "alpha.png", np.zeros((16, 16, 4), np.uint8))
    out = tmp_path / "enc"
    assert run("encrypt", "--key", key_path, image_tree, out, "--quiet") == 1
    err = capsys.readouterr().err
    assert "broken.png: not a readable" in err
    assert "odd.png: Image sides 15x16" in err
    assert "alpha.png: it has an alpha channel" in err
    assert "3 file(s) failed" in err
    assert len(list(out.rglob("*.png"))) == 7  # the good files (grey included) are still written
    assert not list(out.rglob("*.tmp"))  # and nothing half-written is left


def test_wrong_or_missing_key(image_tree, tmp_path, capsys):
    assert run("encrypt", "--key", tmp_path / "nope.json", image_tree, tmp_path / "o") == 1
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert run("encrypt", "--key", bad, image_tree, tmp_path / "o") == 1
    assert "not a keras-lie key" in capsys.readouterr().err


def test_padding_option_and_decrypt_crops_back(key_path, tmp_path, rng):
    original = random_images(rng, (15, 14, 3))
    write_png(tmp_path / "odd.png", original)
    assert run("encrypt", "--key", key_path, "--padding", "replicate", tmp_path / "odd.png", tmp_path / "e.png") == 0
    assert read_image(tmp_path / "e.png").shape == (16, 16, 3)
    # The PNG records the unpadded size: decrypting gives back exactly the image that was encrypted.
    assert run("decrypt", "--key", key_path, tmp_path / "e.png", tmp_path / "d.png") == 0
    assert np.array_equal(read_image(tmp_path / "d.png"), original)
    # A record that padding cannot have made is refused, not cropped to.
    data = (tmp_path / "e.png").read_bytes().replace(b"15x14", b"11x14")
    (tmp_path / "e2.png").write_bytes(data)
    assert run("decrypt", "--key", key_path, tmp_path / "e2.png", tmp_path / "d2.png") == 1
    assert not (tmp_path / "d2.png").exists()


def test_help_and_no_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run("encrypt", "--help")
    assert exit_info.value.code == 0
    assert "PNG" in capsys.readouterr().out
    assert run() == 2


# -- training commands -----------------------------------------------------------------------


def test_reproduce_train_evaluate_export_on_tiny_data(tmp_path, rng, capsys):
    from conftest import write_image_tree, zip_tree

    data = zip_tree(write_image_tree(tmp_path / "tree", rng), tmp_path / "tiny.zip")
    key = tmp_path / "k.json"
    assert run("keygen", "--block-size", "4", "-o", key) == 0
    budget = ["--preset", "quick", "--epochs", "1", "--batch-size", "4", "--depth", "8", "--alpha", "4"]
    assert run("train", "--key", key, "--data", data, "--stem-input", "nibbles", *budget, "-o", tmp_path / "run") == 0
    model = tmp_path / "run" / "model.keras"
    assert model.exists() and (tmp_path / "run" / "results.json").exists()
    capsys.readouterr()
    assert run("evaluate", "--model", model, "--data", data, "--key", key) == 0
    evaluation = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluation["examples"] == 12 and 0 <= evaluation["accuracy"] <= 1
    # Another key is refused with one clear line.
    other = tmp_path / "other.json"
    assert run("keygen", "--block-size", "4", "-o", other) == 0
    capsys.readouterr()
    assert run("evaluate", "--model", model, "--data", data, "--key", other) == 1
    err = capsys.readouterr().err
    assert "declared as encrypted with key" in err and "Traceback" not in err
    assert run("export", "--model", model, "-o", tmp_path / "served") == 0
    assert (tmp_path / "served" / "saved_model.pb").exists()
    assert run("export", "--encryptor", "--key", key, "-o", tmp_path / "camera") == 0
    assert "CONTAINS THE KEY" in capsys.readouterr().out
    assert run("reproduce", *budget, "--data", data, "--schemes", "plain,learnable", "--stem-inputs", "nibbles",
               "-o", tmp_path / "repro") == 0
    assert "| proposed | paper stem | pyramidnet | nibbles |" in (tmp_path / "repro" / "results.md").read_text()


def test_trainer_trains_on_an_encrypted_folder_without_the_key(key_path, tmp_path, rng, capsys):
    from conftest import write_image_tree

    tree = write_image_tree(tmp_path / "tree", rng)
    assert run("encrypt", "--key", key_path, tree, tmp_path / "enc", "--quiet") == 0
    budget = ["--preset", "quick", "--epochs", "1", "--batch-size", "4", "--depth", "8", "--alpha", "4"]
    manifest = json.loads((tmp_path / "enc" / "keras-lie-dataset.json").read_text())
    key = load_key(key_path)
    assert manifest["scheme"] == "learnable" and manifest["key_fingerprint"] == key.fingerprint
    assert manifest["image_size"] == [16, 16] and manifest["counts"]["train"] == {"cat": 4, "dog": 4, "frog": 4}
    assert "permutation" not in json.dumps(manifest)
    # The trainer: no key, and no --scheme needed (the manifest gives it); a wrong --scheme is refused.
    assert run("train", "--encrypted", "--scheme", "block-shuffle", "--data", tmp_path / "enc", *budget,
               "-o", tmp_path / "wrong") == 1
    assert run("train", "--encrypted", "--data", tmp_path / "enc", *budget,
               "--recalibrate-batch-norm", "2", "-o", tmp_path / "run") == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["config"]["recalibrate_batch_norm_steps"] == 2
    assert results["metadata"]["scheme"] == "learnable" and results["metadata"]["key_fingerprint"] == key.fingerprint
    model = tmp_path / "run" / "model.keras"
    # Loading the encrypted folder as plain data is refused (it would be encrypted twice).
    assert run("train", "--key", key_path, "--data", tmp_path / "enc", *budget, "-o", tmp_path / "twice") == 1
    # The data holder evaluates the trainer's model with the key on plain images ...
    assert run("evaluate", "--model", model, "--data", tree, "--key", key_path) == 0
    # ... but nobody scores plain images without encrypting them, or images of another key.
    assert run("evaluate", "--model", model, "--data", tree) == 1
    assert "these images are plain" in capsys.readouterr().err
    other = tmp_path / "other.json"
    assert run("keygen", "-o", other) == 0
    assert run("encrypt", "--key", other, tree, tmp_path / "enc-other", "--quiet") == 0
    assert run("evaluate", "--model", model, "--data", tmp_path / "enc-other", "--encrypted") == 1
    assert "evaluate it on images encrypted with its key" in capsys.readouterr().err
    assert run("evaluate", "--model", model, "--data", tmp_path / "enc", "--encrypted") == 0
    # The camera and the operator, on TFLite: the holder exports the encryptor (it holds the key), the
    # trainer's model is exported as is; new frames go through both and agree with Keras.
    assert run("export", "--encryptor", "--key", key_path, "--format", "tflite", "--image-size", "16x16",
               "-o", tmp_path / "camera.tflite") == 0
    assert run("export", "--model", model, "--format", "tflite", "-o", tmp_path / "operator.tflite") == 0
    sidecar = json.loads((tmp_path / "operator.tflite.json").read_text())
    assert sidecar["class_names"] == ["cat", "dog", "frog"] and sidecar["key_fingerprint"] == key.fingerprint
    assert run("export", "--model", model, "-o", tmp_path / "served" / "classifier" / "1") == 0
    from keras_lie.models import read_export_metadata

    assert read_export_metadata(tmp_path / "served" / "classifier" / "1")["class_names"] == ["cat", "dog", "frog"]
    frames = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    camera = tf.lite.Interpreter(model_path=str(tmp_path / "camera.tflite")).get_signature_runner()
    encrypted_frames = camera(images=frames)["encrypted"]
    np.testing.assert_array_equal(encrypted_frames, get_scheme(key).encrypt(frames))
    # The operator's flatbuffer takes the camera's uint8 batch as it comes.
    operator = tf.lite.Interpreter(model_path=str(tmp_path / "operator.tflite")).get_signature_runner()
    import keras

    keras_model = keras.models.load_model(model)
    np.testing.assert_allclose(operator(images=encrypted_frames)["probabilities"],
                               keras_model.predict(encrypted_frames.astype("float32"), verbose=0), atol=1e-4)


def test_figure_command(image_tree, tmp_path):
    assert run("figure", image_tree / "cat" / "0.png", "--seed", "1", "-o", tmp_path / "f.png") == 0
    assert (tmp_path / "f.png").exists()


def test_training_command_errors_are_one_line(tmp_path, capsys, monkeypatch, rng):
    assert run("train", "--data", tmp_path / "missing", "-o", tmp_path / "o") == 1
    assert "does not exist" in capsys.readouterr().err
    assert run("train", "--scheme", "learnable", "--data", "cifar10", "-o", tmp_path / "o") == 1
    assert "Give --key" in capsys.readouterr().err
    import tensorflow_datasets as tfds

    monkeypatch.setattr(tfds, "load", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("offline")))
    assert run("train", "--data", "cifar10", "-o", tmp_path / "o") == 1
    err = capsys.readouterr().err
    assert "Offline, use a local copy" in err and "Traceback" not in err
    assert run("evaluate", "--model", tmp_path / "nope.keras", "--data", "cifar10") == 1
    assert "nope.keras" in capsys.readouterr().err
    from conftest import write_image_tree

    tree = write_image_tree(tmp_path / "tree", rng, per_class=1)
    assert run("reproduce", "--preset", "quick", "--depth", "21", "--data", tree, "-o", tmp_path / "o") == 1
    err = capsys.readouterr().err
    assert "keras-lie: error: depth must be 6n + 2" in err and "Traceback" not in err


def test_every_option_has_help_and_one_overwrite_spelling(tmp_path):
    import argparse

    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
            shown = [o for o in action.option_strings if action.help is not argparse.SUPPRESS]
            assert "--force" not in shown, f"{name}: the flag is --overwrite"
    key = tmp_path / "k.json"
    assert run("keygen", "-o", key) == 0
    assert run("keygen", "-o", key) == 1
    assert run("keygen", "--overwrite", "-o", key) == 0


def test_progress_output_has_no_control_characters_when_not_a_terminal(key_path, image_tree, tmp_path, capsys):
    assert run("encrypt", "--key", key_path, image_tree, tmp_path / "enc") == 0  # capsys: not a terminal
    out = capsys.readouterr().out
    assert "\r" not in out and "\b" not in out and "\x1b" not in out


def test_bad_training_images_are_named_and_one_channel_rule_everywhere(tmp_path, rng, capsys):
    from conftest import write_image_tree

    tree = write_image_tree(tmp_path / "tree", rng, per_class=2)
    (tmp_path / "tree" / "train" / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    budget = ["--preset", "quick", "--epochs", "1", "--batch-size", "4", "--depth", "8", "--alpha", "4"]
    assert run("train", "--data", tree, *budget, "-o", tmp_path / "run") == 1
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "Traceback" not in err
    (tmp_path / "tree" / "train" / "cat" / "broken.jpg").unlink()
    # Greyscale is expanded exactly; an alpha channel is refused by name, for training and for encrypt alike.
    grey = rng.integers(0, 256, (16, 16, 1), dtype=np.uint8)
    write_png(tmp_path / "tree" / "train" / "dog" / "grey.png", grey)
    rgba = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    write_png(tmp_path / "tree" / "train" / "dog" / "alpha.png", rgba)
    assert run("train", "--data", tree, *budget, "-o", tmp_path / "run2") == 1
    assert "alpha.png" in capsys.readouterr().err
    key = tmp_path / "key.json"
    assert run("keygen", "--scheme", "block-shuffle", "-o", key) == 0
    assert run("encrypt", "--quiet", "--key", key, tmp_path / "tree" / "train" / "dog", tmp_path / "enc") == 1
    assert "alpha.png" in capsys.readouterr().err
    encrypted_grey = read_image(tmp_path / "enc" / "grey.png")
    np.testing.assert_array_equal(encrypted_grey, get_scheme(load_key(key)).encrypt(np.repeat(grey, 3, axis=-1)))


def test_keygen_makes_and_imports_ele_and_etc_keys(tmp_path, capsys):
    from conftest import shared_dir

    assert run("keygen", "--scheme", "ele", "--block-size", "8", "--image-size", "16x24", "-o", tmp_path / "ele.json") == 0
    key = load_key(tmp_path / "ele.json")
    assert (key.scheme, key.block_size, key.image_size) == ("ele", 8, (16, 24))
    assert run("keygen", "--scheme", "etc", "-o", tmp_path / "etc.json") != 0
    assert "--image-size HxW" in capsys.readouterr().err
    assert run("keygen", "--image-size", "32x32", "-o", tmp_path / "le.json") != 0
    assert "--image-size is for ele and etc keys" in capsys.readouterr().err
    reference = shared_dir() / "reference" / "etc_key_m4.npz"
    if reference.is_file():
        assert run("keygen", "--scheme", "etc", "--from-reference", reference, "--colour-shuffle", "reference-code",
                   "-o", tmp_path / "paper.json") == 0
        assert load_key(tmp_path / "paper.json").colour_shuffle == "reference_code"
        assert run("keygen", "--from-reference", reference, "-o", tmp_path / "x.json") != 0
        assert "--scheme etc" in capsys.readouterr().err


def test_train_distribute_flag(tmp_path, rng, capsys, monkeypatch):
    from conftest import write_image_tree, zip_tree

    data = zip_tree(write_image_tree(tmp_path / "tree", rng, per_class=2), tmp_path / "tiny.zip")
    key = tmp_path / "k.json"
    assert run("keygen", "--block-size", "4", "-o", key) == 0
    budget = ["--preset", "quick", "--epochs", "1", "--batch-size", "4", "--depth", "8", "--alpha", "4"]
    assert run("train", "--key", key, "--data", data, *budget, "--distribute", "mirrored", "-o", tmp_path / "run") == 0
    assert json.loads((tmp_path / "run" / "results.json").read_text())["config"]["strategy"] == "MirroredStrategy"
    monkeypatch.delenv("TF_CONFIG", raising=False)
    capsys.readouterr()
    assert run("train", "--key", key, "--data", data, *budget, "--distribute", "multi-worker", "-o", tmp_path / "mw") == 1
    assert "TF_CONFIG environment variable, which is not set" in capsys.readouterr().err


def test_messages_say_what_happened(key_path, image_tree, image_zip, tmp_path, capsys):
    import keras_lie
    from keras_lie.errors import KeyFileError

    # A zip is no image to encrypt: say so, not "give a .png name".
    assert run("encrypt", "--key", key_path, image_zip, tmp_path / "z") == 1
    assert "extract it first" in capsys.readouterr().err
    # A single file that fails prints no "Encrypted 0 file(s)".
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"junk")
    assert run("encrypt", "--key", key_path, broken, tmp_path / "e1.png") == 1
    out, err = capsys.readouterr()
    assert "Encrypted" not in out and "failed" in err
    # decrypt does not count its own manifest as a skipped file.
    encrypted, back = tmp_path / "enc", tmp_path / "back"
    assert run("encrypt", "--key", key_path, image_tree, encrypted, "--quiet") == 0
    capsys.readouterr()
    assert run("decrypt", "--key", key_path, encrypted, back, "--quiet") == 0
    assert "skipped" not in capsys.readouterr().err
    # A missing key on decrypt does not advise a new key alone; a fingerprint is not a key file.
    assert run("decrypt", "--key", tmp_path / "missing.json", encrypted, tmp_path / "x") == 1
    assert "a new key cannot decrypt it" in capsys.readouterr().err
    fingerprint = load_key(key_path).short_fingerprint
    assert run("decrypt", "--key", fingerprint, encrypted, tmp_path / "x") == 1
    assert "looks like a key's fingerprint" in capsys.readouterr().err
    # The Python API: no key is a keras-lie error, not a raw TypeError.
    with pytest.raises(KeyFileError, match="keygen"):
        load_key(None)
    with pytest.raises(KeyFileError):
        keras_lie.encrypt(np.zeros((4, 4, 3), np.uint8), None)


def test_help_and_version_do_not_import_tensorflow(tmp_path):
    import subprocess
    import sys

    script = ("import sys; from keras_lie import cli\n"
              "for argv in (['--version'], ['--help'], ['train', '--help'], ['security', '--help']):\n"
              "    try:\n        cli.main(argv)\n    except SystemExit:\n        pass\n"
              f"cli.main(['keygen', '-o', {str(tmp_path / 'k.json')!r}])\n"
              "print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("False")  # so they answer in a fraction of a second


def test_commands_print_no_tensorflow_log_lines(tmp_path):
    import subprocess
    import sys

    image = tmp_path / "in.png"
    write_png(image, np.zeros((8, 8, 3), np.uint8))
    key = tmp_path / "k.json"
    assert run("keygen", "-o", key) == 0
    command = [sys.executable, "-m", "keras_lie.cli", "encrypt", "--key", str(key), str(image), str(tmp_path / "out.png")]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]


def test_predict_for_the_operator(tmp_path, capsys):
    import functools
    import zipfile

    from keras_lie.models import build_classifier, pyramidnet

    key_path = tmp_path / "k.json"
    assert run("keygen", "--scheme", "learnable", "--block-size", "4", "-o", key_path) == 0
    key = load_key(key_path)
    model = build_classifier(key, backbone=functools.partial(pyramidnet, depth=8, alpha=8), input_shape=(32, 32, 3),
                             num_classes=3)
    run_folder = tmp_path / "run"
    run_folder.mkdir()
    model.save(run_folder / "last.keras")
    (run_folder / "results.json").write_text(json.dumps({"metadata": {"class_names": ["cat", "dog", "frog"]}}))
    # Natural images (smooth across block boundaries) where the shared zip has them, else smooth ramps.
    from conftest import shared_dir

    archive = shared_dir() / "data" / "cifar10-jpeg.zip"
    if archive.is_file():
        import io

        from PIL import Image
        with zipfile.ZipFile(archive) as z:
            names = sorted(n for n in z.namelist() if n.startswith("cifar10/test/") and n.endswith(".jpg"))[:6]
            plain = np.stack([np.asarray(Image.open(io.BytesIO(z.read(n))).convert("RGB")) for n in names])
    else:
        ramp = np.linspace(0, 255, 32)
        plain = np.stack([np.stack([np.add.outer(ramp * (k + 1) / 7, ramp / 3).clip(0, 255)] * 3, -1)
                          for k in range(6)]).astype(np.uint8)
    plain_dir, encrypted_dir = tmp_path / "frames", tmp_path / "encrypted"
    for i, image in enumerate(plain):
        write_png(plain_dir / f"{i}.png", image)
    assert run("encrypt", "--key", key_path, plain_dir, encrypted_dir, "--quiet") == 0
    capsys.readouterr()
    assert run("predict", "--model", run_folder / "last.keras", "--top", "2", encrypted_dir) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0] == "file,class_1,probability_1,class_2,probability_2" and len(rows) == 7
    first = rows[1].split(",")
    assert first[1] in ("cat", "dog", "frog") and 0 <= float(first[2]) <= 1 and float(first[2]) >= float(first[4])
    out = tmp_path / "p.json"
    assert run("predict", "--model", run_folder / "last.keras", "--format", "json", "-o", out,
               *sorted(encrypted_dir.glob("*.png"))[:2]) == 0
    saved = json.loads(out.read_text())
    assert [entry["file"] for entry in saved] == [str(p) for p in sorted(encrypted_dir.glob("*.png"))[:2]]
    (best,) = saved[0]["predictions"]
    assert best["class"] in ("cat", "dog", "frog") and 0 < best["probability"] <= 1
    # Plain frames for a model of encrypted images: refused with the fix.
    assert run("predict", "--model", run_folder / "last.keras", plain_dir) == 1
    assert "look plain" in capsys.readouterr().err
    # A folder encrypted with another key: refused by its manifest.
    other = tmp_path / "other.json"
    assert run("keygen", "--scheme", "learnable", "--block-size", "4", "-o", other) == 0
    assert run("encrypt", "--key", other, plain_dir, tmp_path / "other_enc", "--quiet") == 0
    capsys.readouterr()
    assert run("predict", "--model", run_folder / "last.keras", tmp_path / "other_enc") == 1
    assert "encrypted with its key" in capsys.readouterr().err


def test_the_scheme_lists_of_the_commands_come_from_the_registry():
    import argparse

    from keras_lie.registry import SCHEME_RECORDS

    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    scheme_help = next(a.help for a in commands["keygen"]._actions if a.dest == "scheme")
    for name, record in SCHEME_RECORDS.items():
        assert name.replace("_", "-") in scheme_help and record.label in scheme_help, name
    assert commands["security"].get_default("schemes").split(",") == list(SCHEME_RECORDS)
    assert commands["reproduce"].get_default("schemes").split(",") == [
        name for name, record in SCHEME_RECORDS.items() if record.in_paper]
