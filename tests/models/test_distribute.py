"""MirroredStrategy on two logical CPU devices (in a subprocess: devices are fixed at start-up)."""

import os
import subprocess
import sys

SCRIPT = """
import functools
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import keras_lie
from keras_lie.models import build_classifier, pyramidnet

from keras_lie.training import train

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
key = keras_lie.generate_key("learnable", seed=1)
builder = functools.partial(build_classifier, key, backbone=functools.partial(pyramidnet, depth=8, alpha=4),
                            input_shape=(16, 16, 3), num_classes=3, stem_input_mode="nibbles")
x = keras_lie.encrypt(np.random.default_rng(0).integers(0, 256, (16, 16, 16, 3), dtype=np.uint8), key)
data = tf.data.Dataset.from_tensor_slices((x.astype("float32"), np.arange(16) % 3)).batch(8)
model, results = train(builder, data, data, epochs=1, learning_rate=0.01, strategy=strategy, verbose=0)
assert np.isfinite(results["history"]["loss"][0])
assert results["config"]["strategy"] == "MirroredStrategy"
assert len(getattr(model.trainable_weights[0].value, "values", ())) == 2  # mirrored on both devices
print("ok", strategy.num_replicas_in_sync)
"""


def test_mirrored_strategy_on_two_logical_cpus():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok 2" in result.stdout
