"""The three roles end to end, each step in a fresh process, as the README tells them.

data holder: keygen, encrypt a folder (with its manifest) -> trainer: train without the key ->
data holder: evaluate with the key -> camera and operator: a TFLite encryptor and a TFLite
classifier on new frames, agreeing with Keras.
"""

import os
import subprocess
import sys

import numpy as np

from conftest import write_image_tree

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def keras_lie(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "keras_lie.cli", *map(str, args)], cwd=cwd, env=ENV,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"keras-lie {' '.join(map(str, args))}:\n{result.stderr[-3000:]}"
    return result.stdout


OPERATOR = """
import json, sys
import numpy as np
import tensorflow as tf
import keras, keras_lie
frames = np.load("frames.npy")
camera = tf.lite.Interpreter(model_path="camera.tflite").get_signature_runner()
encrypted = camera(images=frames)["encrypted"]
operator = tf.lite.Interpreter(model_path="operator.tflite").get_signature_runner()
outputs = operator(images=encrypted)["probabilities"]  # the camera's uint8 batch as it is
reference = keras.models.load_model("trainer/model.keras").predict(
    keras_lie.encrypt(frames, "holder/key.json").astype("float32"), verbose=0)
print(json.dumps({"camera_exact": bool((encrypted == keras_lie.encrypt(frames, "holder/key.json")).all()),
                  "max_difference": float(np.abs(np.array(outputs) - reference).max())}))
"""


def test_three_roles_in_fresh_processes(tmp_path, rng):
    import json

    (tmp_path / "holder").mkdir()
    write_image_tree(tmp_path / "holder" / "images", rng, per_class=4, size=16)
    # The data holder: a key, and the encrypted folder with its manifest.
    keras_lie("keygen", "-o", "holder/key.json", cwd=tmp_path)
    keras_lie("encrypt", "--quiet", "--key", "holder/key.json", "holder/images", "shared/encrypted", cwd=tmp_path)
    assert (tmp_path / "shared" / "encrypted" / "keras-lie-dataset.json").is_file()
    # The trainer: only the encrypted folder.
    budget = ["--preset", "quick", "--epochs", "1", "--batch-size", "4", "--depth", "8", "--alpha", "4"]
    keras_lie("train", "--encrypted", "--data", "shared/encrypted", *budget, "-o", "trainer", cwd=tmp_path)
    # The data holder evaluates the trainer's model on plain images with the key.
    evaluation = json.loads(keras_lie("evaluate", "--model", "trainer/model.keras", "--data", "holder/images",
                                      "--key", "holder/key.json", cwd=tmp_path).strip().splitlines()[-1])
    assert 0 <= evaluation["accuracy"] <= 1
    # The camera (holder's encryptor, secret) and the operator (trainer's classifier), on TFLite.
    keras_lie("export", "--encryptor", "--key", "holder/key.json", "--format", "tflite", "--image-size", "16x16",
              "-o", "camera.tflite", cwd=tmp_path)
    keras_lie("export", "--model", "trainer/model.keras", "--format", "tflite", "-o", "operator.tflite", cwd=tmp_path)
    np.save(tmp_path / "frames.npy", rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8))
    result = subprocess.run([sys.executable, "-c", OPERATOR], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["camera_exact"] and outcome["max_difference"] < 1e-4
