import functools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_lie.models import build_classifier, pyramidnet
from keras_lie.training import TrainingDivergedError, learning_rate_schedule, train


def tiny_data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 16, 16, 3)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 127.5).astype("int64")  # a learnable rule
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


builder = functools.partial(
    build_classifier, "plain", backbone=functools.partial(pyramidnet, depth=8, alpha=4),
    input_shape=(16, 16, 3), num_classes=2,
)


def test_schedules():
    cosine = learning_rate_schedule(0.1, 10, "cosine")
    assert cosine(0) == pytest.approx(0.1) and cosine(5) == pytest.approx(0.05)
    step = learning_rate_schedule(0.1, 8, "step")
    assert [round(step(e), 6) for e in (0, 3, 4, 6, 7)] == [0.1, 0.1, 0.01, 0.001, 0.001]
    with pytest.raises(ValueError, match="schedule"):
        learning_rate_schedule(0.1, 8, "linear")


def test_train_writes_results_checkpoints_and_resumes(tmp_path):
    keras.utils.set_random_seed(0)
    model, results = train(builder, tiny_data(), tiny_data(seed=1), epochs=1, output_dir=tmp_path,
                           learning_rate=0.01, metadata={"seed": 0}, verbose=0)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["config"]["momentum"] == 0.9 and saved["config"]["nesterov"] is True
    assert saved["config"]["weight_decay"] == 1e-4
    assert 0 <= saved["test_accuracy"] <= 1 and saved["metadata"] == {"seed": 0}
    assert len(saved["history"]["loss"]) == 1
    assert (tmp_path / "last.keras").exists() and (tmp_path / "log.csv").exists()
    assert json.loads((tmp_path / "state.json").read_text()) == {"next_epoch": 1}
    _, resumed = train(builder, tiny_data(), tiny_data(seed=1), epochs=3, output_dir=tmp_path,
                       learning_rate=0.01, verbose=0)
    assert resumed["config"]["initial_epoch"] == 1
    assert len(resumed["history"]["loss"]) == 2
    assert len((tmp_path / "log.csv").read_text().strip().splitlines()) == 1 + 3  # header + 3 epochs


def test_validation_freq_validates_less_and_still_reports_the_final_accuracy():
    keras.utils.set_random_seed(0)
    model, results = train(builder, tiny_data(), tiny_data(seed=1), epochs=2, learning_rate=0.01,
                           validation_freq=2, verbose=0)
    assert len(results["history"]["loss"]) == 2 and len(results["history"]["val_accuracy"]) == 1
    assert results["test_accuracy"] == pytest.approx(model.evaluate(tiny_data(seed=1), verbose=0)[1])
    _, results = train(builder, tiny_data(), tiny_data(seed=1), epochs=1, validation_freq=2, verbose=0)
    assert "val_accuracy" not in results["history"] and 0 <= results["test_accuracy"] <= 1
    with pytest.raises(ValueError, match="validation_freq"):
        train(builder, tiny_data(), epochs=1, validation_freq=0)


def test_nan_stops_training_with_a_clear_error(tmp_path):
    x = np.full((16, 16, 16, 3), 255, "float32")
    bad = tf.data.Dataset.from_tensor_slices((x, np.zeros(16, "int64"))).batch(8)
    with pytest.raises(TrainingDivergedError, match="NaN"):
        train(builder, bad, epochs=3, learning_rate=1e12, output_dir=tmp_path, verbose=0)
    assert not (tmp_path / "results.json").exists()


def test_mixed_precision_needs_a_builder_and_restores_the_policy():
    with pytest.raises(ValueError, match="function that builds"):
        train(builder(), tiny_data(), epochs=1, mixed_precision=True, verbose=0)
    model, _ = train(builder, tiny_data(), epochs=1, mixed_precision=True, learning_rate=0.01, verbose=0)
    assert model.dtype_policy.name.startswith("mixed_")
    assert keras.config.dtype_policy().name == "float32"
