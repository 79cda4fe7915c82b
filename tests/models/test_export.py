import functools
import json
import os
import stat
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_lie
from keras_lie.keys import generate_key
from keras_lie.models import build_classifier, export, export_encryptor, pyramidnet, read_export_metadata

tiny = functools.partial(pyramidnet, depth=8, alpha=8)

LOAD_WITHOUT_KERAS_LIE = """
import sys, json
import keras
import numpy as np
sys.modules["keras_lie"] = None  # importing keras_lie now fails: the SavedModel must not need it
import tensorflow as tf
served = tf.saved_model.load(sys.argv[1])
images = np.load(sys.argv[2])
probabilities = served.signatures["serving_default"](images=tf.constant(images))["probabilities"]
metadata = served.signatures["metadata"]()["metadata"].numpy().decode()
print(json.dumps({"probabilities": probabilities.numpy().tolist(), "metadata": json.loads(metadata)}))
"""


def test_export_serves_uint8_without_keras_lie(tmp_path):
    key = generate_key("learnable", seed=1)
    model = build_classifier(key, backbone=tiny, input_shape=(16, 16, 3), num_classes=5)
    x = keras_lie.encrypt(np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8), key)
    expected = model.predict(x.astype("float32"), verbose=0)
    path = export(model, tmp_path / "served")
    np.save(tmp_path / "x.npy", x)
    result = subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_KERAS_LIE, str(path), str(tmp_path / "x.npy")],
        capture_output=True, text=True, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    served = json.loads(result.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(served["probabilities"], expected, rtol=1e-4, atol=1e-6)
    assert served["metadata"]["key_fingerprint"] == key.fingerprint
    assert read_export_metadata(path)["scheme"] == "learnable"
    assert key.material()["permutation"][:8] != []  # sanity
    saved = (path / "saved_model.pb").read_bytes()
    assert json.dumps(key.material()["permutation"]).encode() not in saved


def test_export_refuses_overwrite_and_leaves_no_partial_folder(tmp_path):
    model = build_classifier("plain", backbone=tiny, input_shape=(16, 16, 3))
    (tmp_path / "served").mkdir()
    with pytest.raises(FileExistsError):
        export(model, tmp_path / "served")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]


def test_export_logits_model_returns_probabilities(tmp_path):
    logits = functools.partial(pyramidnet, depth=8, alpha=8, classifier_activation=None)
    model = build_classifier("plain", backbone=logits, input_shape=(16, 16, 3), num_classes=4)
    served = tf.saved_model.load(str(export(model, tmp_path / "s")))
    out = served.signatures["serving_default"](images=tf.zeros((2, 16, 16, 3), tf.uint8))["probabilities"]
    np.testing.assert_allclose(out.numpy().sum(axis=1), 1, rtol=1e-5)


def test_encryptor_embeds_the_key_and_is_owner_only(tmp_path):
    key = generate_key("learnable", seed=2)
    path = export_encryptor(key, tmp_path / "camera")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path / "saved_model.pb").st_mode) == 0o600
    encryptor = tf.saved_model.load(str(path))
    x = np.random.default_rng(1).integers(0, 256, (2, 8, 12, 3), dtype=np.uint8)
    out = encryptor.signatures["serving_default"](images=tf.constant(x))["encrypted"].numpy()
    assert np.array_equal(out, keras_lie.encrypt(x, key))
    assert read_export_metadata(path)["secret"] is True


@pytest.mark.parametrize("scheme", ["learnable", "block_shuffle", "cat_map", "plain", "ele", "etc"])
def test_tflite_encryptor_is_bit_exact_with_builtin_ops_only(scheme, tmp_path):
    key = generate_key(scheme, block_size=4 if scheme in ("learnable", "block_shuffle", "ele", "etc") else None,
                       image_size=(16, 24))
    path = keras_lie.models.export_encryptor_tflite(key, tmp_path / "camera.tflite", (16, 24))
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0  # holds the key: owner-only
    interpreter = tf.lite.Interpreter(model_path=str(path))  # the stock interpreter: no Flex delegate
    runner = interpreter.get_signature_runner()
    frames = np.random.default_rng(0).integers(0, 256, (3, 16, 24, 3), dtype=np.uint8)
    encrypted = runner(images=frames)["encrypted"]
    np.testing.assert_array_equal(encrypted, keras_lie.encrypt(frames, key))


def test_tflite_classifier_agrees_with_keras_and_refuses_cipher_layers(tmp_path):
    key = generate_key("learnable")
    model = build_classifier(key, backbone=tiny, input_shape=(16, 16, 3), num_classes=5)
    path = keras_lie.models.export_tflite(model, tmp_path / "served" / "classifier.tflite", class_names=list("abcde"))
    metadata = json.loads((tmp_path / "served" / "classifier.tflite.json").read_text())
    assert metadata["key_fingerprint"] == key.fingerprint and metadata["class_names"] == list("abcde")
    assert metadata["input_shape"] == [None, 16, 16, 3] and metadata["input_dtype"] == "uint8"
    interpreter = tf.lite.Interpreter(model_path=str(path))
    # The SavedModel's input: uint8 batches of any size.
    x = keras_lie.encrypt(np.random.default_rng(1).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8), key)
    (detail,) = interpreter.get_input_details()
    assert detail["dtype"] == np.uint8 and list(detail["shape_signature"]) == [-1, 16, 16, 3]
    output = interpreter.get_signature_runner()(images=x)["probabilities"]
    np.testing.assert_allclose(output, model.predict(x.astype("float32"), verbose=0), atol=1e-4)
    key.save(tmp_path / "key.json")
    inputs = keras.Input((16, 16, 3), dtype="uint8")
    holder = keras.Model(inputs, keras_lie.layers.Encrypt(tmp_path / "key.json")(inputs))
    with pytest.raises(keras_lie.errors.KerasLieError, match="export_encryptor"):
        keras_lie.models.export_tflite(holder, tmp_path / "leak.tflite")


def test_saved_model_export_creates_the_serving_layout(tmp_path):
    model = build_classifier("plain", backbone=tiny, input_shape=(16, 16, 3))
    path = export(model, tmp_path / "served" / "mymodel" / "1")
    assert (path / "saved_model.pb").is_file()
