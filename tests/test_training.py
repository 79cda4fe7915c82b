import functools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_lie.models import build_classifier, pyramidnet
from keras_lie.training import TrainingDivergedError, learning_rate_schedule, recalibrate_batch_norm, train


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
    # The history covers the whole run: the first epoch is read back from log.csv.
    assert len(resumed["history"]["loss"]) == 3
    assert resumed["history"]["loss"][0] == pytest.approx(results["history"]["loss"][0])
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
    # Recalibration does not run on diverged weights (nor save them over the checkpoint).
    with pytest.raises(TrainingDivergedError, match="NaN"):
        train(builder, bad, epochs=3, learning_rate=1e12, recalibrate_batch_norm_steps=1,
              output_dir=tmp_path / "recalibrated", verbose=0)
    assert not (tmp_path / "recalibrated" / "last.keras").exists()


def test_mixed_precision_needs_a_builder_and_restores_the_policy():
    with pytest.raises(ValueError, match="function that builds"):
        train(builder(), tiny_data(), epochs=1, mixed_precision=True, verbose=0)
    model, _ = train(builder, tiny_data(), epochs=1, mixed_precision=True, learning_rate=0.01, verbose=0)
    assert model.dtype_policy.name.startswith("mixed_")
    assert keras.config.dtype_policy().name == "float32"


def batch_norm_model():
    inputs = keras.Input((3,))
    outputs = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(3, name="dense")(inputs))
    return keras.Model(inputs, outputs)


def test_recalibrate_batch_norm_sets_the_average_of_the_batch_statistics():
    keras.utils.set_random_seed(0)
    model = batch_norm_model()
    x = np.random.default_rng(0).normal(3.0, 2.0, (40, 3)).astype("float32")
    batches = tf.data.Dataset.from_tensor_slices((x, np.zeros(40))).batch(10)
    assert recalibrate_batch_norm(model, batches, steps=3) == 1
    features = model.get_layer("dense")(x).numpy().reshape(4, 10, 3)[:3]  # the first 3 batches
    bn = model.get_layer("bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(), features.mean(axis=1).mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), features.var(axis=1).mean(axis=0), rtol=1e-4)
    assert bn.momentum == 0.99
    # Inference now normalises a training batch as training did (to a small error).
    normalised = model(x[:10], training=False).numpy()
    assert abs(normalised.mean()) < 0.5


def test_recalibrate_batch_norm_reaches_nested_layers_and_refuses_an_empty_dataset():
    model = build_classifier("learnable", stem={"input_normalization": True}, stem_input_mode="nibbles",
                             backbone=functools.partial(pyramidnet, depth=8, alpha=4), input_shape=(16, 16, 3))
    stem_norm = model.get_layer("block_stem").input_norm  # held by BlockStem, not a graph node
    np.testing.assert_array_equal(stem_norm.moving_mean.numpy(), 0.0)
    # BlockStem's input, block and NiN normalisation, and the backbone's.
    assert recalibrate_batch_norm(model, tiny_data(n=16), steps=1) >= 5
    before = stem_norm.moving_mean.numpy().copy()
    assert np.all(before > 0)  # nibbles / 15 have positive means
    empty = tiny_data(n=16).take(0)
    with pytest.raises(ValueError, match="no batches"):
        recalibrate_batch_norm(model, empty)
    np.testing.assert_array_equal(stem_norm.moving_mean.numpy(), before)
    assert stem_norm.momentum == 0.99
    with pytest.raises(ValueError, match="steps"):
        recalibrate_batch_norm(model, tiny_data(), steps=0)


def test_train_recalibrates_batch_norm_before_the_final_accuracy_and_saves_it(tmp_path):
    keras.utils.set_random_seed(0)
    model, results = train(builder, tiny_data(), tiny_data(seed=1), epochs=2, learning_rate=0.01,
                           recalibrate_batch_norm_steps=2, output_dir=tmp_path, verbose=0)
    assert results["config"]["recalibrate_batch_norm_steps"] == 2
    assert "test_accuracy_before_recalibration" in results
    saved = keras.models.load_model(tmp_path / "last.keras")
    assert results["test_accuracy"] == pytest.approx(saved.evaluate(tiny_data(seed=1), verbose=0)[1])
    # The saved statistics are the recalibrated ones, not the moving averages.
    expected = keras.models.clone_model(saved)
    expected.set_weights(saved.get_weights())
    recalibrate_batch_norm(expected, tiny_data(), steps=2)
    for a, b in zip(saved.weights, expected.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="recalibrate_batch_norm_steps"):
        train(builder, tiny_data(), epochs=1, recalibrate_batch_norm_steps=-1)


def test_load_checkpoint_works_in_a_fresh_process(tmp_path):
    import subprocess
    import sys

    keras.utils.set_random_seed(0)
    train(builder, tiny_data(), epochs=1, output_dir=tmp_path, verbose=0)
    # A fresh interpreter has not imported keras_lie.layers, whose classes the file names.
    script = ("import sys; from keras_lie.training import load_checkpoint; "
              "print(load_checkpoint(sys.argv[1]).name)")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "last.keras")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("plain_classifier")


def test_a_run_folder_with_other_settings_is_refused_not_mixed(tmp_path):
    from keras_lie.errors import KerasLieError

    keras.utils.set_random_seed(0)
    train(builder, tiny_data(), epochs=1, output_dir=tmp_path, learning_rate=0.01, metadata={"depth": 8}, verbose=0)
    stamp = (tmp_path / "last.keras").stat().st_mtime_ns
    with pytest.raises(KerasLieError, match="other settings .*depth: 8 there, 14 now"):
        train(builder, tiny_data(), epochs=2, output_dir=tmp_path, learning_rate=0.01, metadata={"depth": 14},
              verbose=0)
    assert (tmp_path / "last.keras").stat().st_mtime_ns == stamp  # the earlier run is untouched
    _, results = train(builder, tiny_data(), epochs=1, output_dir=tmp_path, learning_rate=0.01,
                       metadata={"depth": 14}, restart=True, verbose=0)
    assert results["metadata"] == {"depth": 14} and results["config"]["initial_epoch"] == 0


def test_resuming_with_more_epochs_extends_the_run(tmp_path):
    # As the `train` command records it: its settings, epochs included, in the metadata.
    keras.utils.set_random_seed(0)
    train(builder, tiny_data(), epochs=1, output_dir=tmp_path, metadata={"settings": {"epochs": 1, "depth": 8}},
          verbose=0)
    _, results = train(builder, tiny_data(), epochs=2, output_dir=tmp_path,
                       metadata={"settings": {"epochs": 2, "depth": 8}}, verbose=0)
    assert results["config"]["initial_epoch"] == 1 and len(results["history"]["loss"]) == 2
    assert json.loads((tmp_path / "run.json").read_text())["metadata"]["settings"]["epochs"] == 2


def test_adamw_and_the_callers_callbacks(tmp_path):
    with pytest.raises(ValueError, match="optimizer"):
        train(builder, tiny_data(), epochs=1, optimizer="adam")
    ended = []
    extra = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ended.append(epoch))
    keras.utils.set_random_seed(0)
    model, results = train(builder, tiny_data(), epochs=1, optimizer="adamw", learning_rate=1e-3, output_dir=tmp_path,
                           callbacks=[extra], verbose=0)
    assert isinstance(model.optimizer, keras.optimizers.AdamW) and results["config"]["optimizer"] == "adamw"
    assert ended == [0]
    # Recorded in run.json, as only a non-default optimizer is.
    assert json.loads((tmp_path / "run.json").read_text())["config"]["optimizer"] == "adamw"
