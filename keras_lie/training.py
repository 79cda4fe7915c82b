"""`train`: `model.fit` with the PyramidNet paper's optimiser, checkpoints, logs and JSON results.

Also `recalibrate_batch_norm`, which replaces the moving averages of every
`BatchNormalization` layer by exact averages over training batches.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import functools
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_lie.distribute import (
    evaluate_multi_worker,
    fit_multi_worker,
    is_chief,
    is_multi_worker,
    strategy_name,
)
from keras_lie.errors import KerasLieError, TrainingDivergedError
from keras_lie.io.atomic_files import atomic_write_bytes
from keras_lie.keys import Key
from keras_lie.models import build_classifier, pyramidnet, walk_layers
from keras_lie.options import OPTIMIZERS, SCHEDULES
from keras_lie.schemes import get_scheme


def learning_rate_schedule(base: float, epochs: int, schedule: str = "cosine") -> Callable[[int], float]:
    """Per-epoch learning rate: cosine to 0, or the step rule (/10 at 50% and 75%)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, not {schedule!r}.")

    def rate(epoch: int) -> float:
        if schedule == "cosine":
            return 0.5 * base * (1 + math.cos(math.pi * epoch / max(epochs, 1)))
        if schedule == "step":
            return base * (0.1 ** ((epoch >= 0.5 * epochs) + (epoch >= 0.75 * epochs)))
        return base

    return rate


def train(
    model: keras.Model | Callable[[], keras.Model],
    train_data: tf.data.Dataset,
    validation_data: tf.data.Dataset | None = None,
    *,
    epochs: int = 300,
    learning_rate: float = 0.1,
    momentum: float = 0.9,
    nesterov: bool = True,
    weight_decay: float = 1e-4,
    schedule: str = "cosine",
    optimizer: str = "sgd",
    output_dir: str | os.PathLike | None = None,
    resume: bool = True,
    mixed_precision: bool = False,
    jit_compile: bool | str = "auto",
    strategy: tf.distribute.Strategy | None = None,
    metadata: dict | None = None,
    validation_freq: int = 1,
    recalibrate_batch_norm_steps: int = 0,
    restart: bool = False,
    verbose: int | str = "auto",
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> tuple[keras.Model, dict]:
    """Train a classifier; return it and a results dict (also written as `results.json`).

    Defaults are the PyramidNet paper's: SGD with Nesterov momentum 0.9, weight
    decay 1e-4 (batch 128 is the pipeline's), cosine or step schedule.

    Args:
        optimizer: "sgd" (with `momentum`, `nesterov`) or "adamw" (Keras' AdamW, for
            transformers), each with `learning_rate` and `weight_decay`.
        model: a compiled-or-not `keras.Model`, or a function that builds one. Pass
            a function with `strategy` or `mixed_precision`, so that the model is
            built inside the strategy's scope and under the dtype policy.
        output_dir: where `last.keras` (a checkpoint every epoch), `log.csv`,
            `state.json`, `run.json` (the run's settings) and `results.json` go.
            With `resume`, training continues from the last finished epoch found
            there, provided the settings are the same: a folder holding a run with
            other settings is refused (never silently mixed) unless `restart`.
        restart: start over in `output_dir`, removing an earlier run's files.
        strategy: a `tf.distribute.Strategy` (MirroredStrategy, MultiWorkerMirrored, TPU; see
            `keras_lie.distribute.make_strategy`). Under MultiWorkerMirroredStrategy training runs
            `keras_lie.distribute.fit_multi_worker` (Keras' `fit` does not support it), only the
            chief writes to `output_dir`, validation happens after the last epoch, and `train_data`
            may be a function of the `tf.distribute.InputContext` giving each worker its own part.
        metadata: stored in the results (dataset, key fingerprint, seed, ...).
        validation_freq: validate every this many epochs (Keras' `fit` semantics).
            The final `test_accuracy` is always measured: taken from the last
            epoch when it was validated, evaluated once more otherwise. A larger
            value saves time when only the final accuracy is wanted.
        recalibrate_batch_norm_steps: after the last epoch, replace the moving
            statistics of every `BatchNormalization` layer by averages over this
            many batches of `train_data` (see `recalibrate_batch_norm`), then save
            `last.keras` and measure the final accuracy with them (0: keep the
            moving averages). Worth it for short runs, whose moving averages still
            carry their initial values: 5 epochs of 79 steps leave 2% of the
            initial variance 1 in them.
        verbose: Keras' `fit` verbosity (1: a per-step progress bar, 2: one line per epoch).
        callbacks: more Keras callbacks for `fit`, after the learning-rate schedule.

    Results: `history` covers every epoch, the ones before a resume read back
    from `log.csv`; `wall_time_s` is this call's. With recalibration,
    `test_accuracy_before_recalibration` is kept when the last epoch validated.

    Raises:
        TrainingDivergedError: if the loss becomes NaN (training stops at once).
    """
    _check_arguments(model, optimizer=optimizer, validation_freq=validation_freq,
                     recalibrate_batch_norm_steps=recalibrate_batch_norm_steps, strategy=strategy,
                     mixed_precision=mixed_precision)
    output = Path(output_dir) if output_dir is not None else None
    run = _Run(
        epochs=epochs, optimizer=optimizer, learning_rate=learning_rate, momentum=momentum, nesterov=nesterov,
        weight_decay=weight_decay, schedule=schedule, mixed_precision=mixed_precision, jit_compile=jit_compile,
        strategy=strategy, validation_freq=validation_freq, recalibrate_batch_norm_steps=recalibrate_batch_norm_steps,
        metadata=metadata, verbose=verbose, output=output,
        # Only the chief writes (checkpoints, logs, results); the other workers read its checkpoint to resume,
        # so under multi-worker training `output_dir` must be a folder every worker sees.
        writes=output if is_chief(strategy) else None,
    )
    _prepare_output(run, restart=restart or not resume)
    with _dtype_policy(mixed_precision):
        initial_epoch, model = _build_or_resume_model(model, run, resume=resume)
        fit_callbacks = _callbacks(run, initial_epoch, callbacks)
        start = time.perf_counter()
        history = _fit(model, train_data, validation_data, run, initial_epoch, fit_callbacks)
        diverged = _diverged(history)
        if run.recalibrate_batch_norm_steps and not diverged:  # never overwrite a good checkpoint with NaNs
            _recalibrate_and_save(model, train_data, run)
        wall = time.perf_counter() - start
    if diverged:
        raise TrainingDivergedError(
            "The loss became NaN or infinite; lower the learning rate or check the data."
        )
    results = _results(model, run, history, validation_data, initial_epoch, wall)
    if run.writes is not None:
        atomic_write_bytes(run.writes / "results.json", json.dumps(results, indent=1).encode(), overwrite=True)
    return model, results


@dataclasses.dataclass(frozen=True)
class _Run:
    """One `train` call's settings and folders, as its steps read them."""

    epochs: int
    optimizer: str
    learning_rate: float
    momentum: float
    nesterov: bool
    weight_decay: float
    schedule: str
    mixed_precision: bool
    jit_compile: bool | str
    strategy: tf.distribute.Strategy | None
    validation_freq: int
    recalibrate_batch_norm_steps: int
    metadata: dict | None
    verbose: int | str
    output: Path | None  # where an earlier run is resumed from
    writes: Path | None  # where this process writes: `output` on the chief, nowhere on the other workers

    @property
    def multi_worker(self) -> bool:
        return is_multi_worker(self.strategy)

    def scope(self) -> contextlib.AbstractContextManager:
        """The strategy's scope; no scope without a strategy."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()


def _check_arguments(model, *, optimizer, validation_freq, recalibrate_batch_norm_steps, strategy, mixed_precision) -> None:
    """Refuse `train`'s arguments that cannot work, before anything is written or built."""
    if isinstance(model, keras.Model) and (strategy is not None or mixed_precision):
        raise ValueError(
            "With a strategy or mixed precision, pass a function that builds the model, so "
            "that it is built in the strategy's scope and under the dtype policy."
        )
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {optimizer!r}.")
    if isinstance(validation_freq, bool) or not isinstance(validation_freq, int) or validation_freq < 1:
        raise ValueError(f"validation_freq must be a positive integer (epochs), got {validation_freq!r}.")
    if (isinstance(recalibrate_batch_norm_steps, bool) or not isinstance(recalibrate_batch_norm_steps, int)
            or recalibrate_batch_norm_steps < 0):
        raise ValueError(
            "recalibrate_batch_norm_steps must be a non-negative integer (batches), "
            f"got {recalibrate_batch_norm_steps!r}."
        )
    if is_multi_worker(strategy) and recalibrate_batch_norm_steps:
        raise ValueError(
            "recalibrate_batch_norm_steps does not run under MultiWorkerMirroredStrategy (the statistics would be "
            "each worker's own); recalibrate the saved model on one machine with "
            "keras_lie.training.recalibrate_batch_norm, or train without it."
        )


def _prepare_output(run: _Run, *, restart: bool) -> None:
    """Create the folder this process writes to and claim it for the run's settings (`run.json`)."""
    if run.writes is None:
        return
    run.writes.mkdir(parents=True, exist_ok=True)
    # The epoch count is left out: resuming with more epochs extends a run.
    _claim_run_folder(run.writes, {
        "config": {"learning_rate": run.learning_rate, "momentum": run.momentum, "nesterov": run.nesterov,
                   "weight_decay": run.weight_decay, "schedule": run.schedule, "mixed_precision": run.mixed_precision,
                   # recorded only when not the default, so that folders of earlier SGD runs still resume
                   **({"optimizer": run.optimizer} if run.optimizer != "sgd" else {})},
        "metadata": run.metadata or {},
    }, restart=restart)


@contextlib.contextmanager
def _dtype_policy(mixed_precision: bool) -> Iterator[None]:
    """Keras' mixed dtype policy inside the block if asked (float16 on GPUs, else bfloat16); the earlier one after."""
    previous_policy = keras.config.dtype_policy()
    if mixed_precision:
        keras.config.set_dtype_policy("mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _build_or_resume_model(model, run: _Run, *, resume: bool) -> tuple[int, keras.Model]:
    """The epoch to start from and the model: `run.output`'s checkpoint to resume, else a new compiled one.

    Both are made in the strategy's scope.
    """
    state = run.output / "state.json" if run.output is not None else None
    with run.scope():
        if resume and state is not None and state.exists() and (run.output / "last.keras").exists():
            initial_epoch = json.loads(state.read_text())["next_epoch"]
            model = load_checkpoint(run.output / "last.keras")
        else:
            initial_epoch = 0
            if not isinstance(model, keras.Model):
                model = model()
        # A resumed model comes back compiled, with its optimizer state.
        if initial_epoch == 0 or getattr(model, "optimizer", None) is None:
            model.compile(
                optimizer=_optimizer(run),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
                jit_compile=run.jit_compile,
            )
    return initial_epoch, model


def _optimizer(run: _Run) -> keras.optimizers.Optimizer:
    """AdamW, or SGD with the run's momentum (the paper's), each with its learning rate and weight decay."""
    if run.optimizer == "adamw":
        return keras.optimizers.AdamW(run.learning_rate, weight_decay=run.weight_decay)
    return keras.optimizers.SGD(
        run.learning_rate, momentum=run.momentum, nesterov=run.nesterov, weight_decay=run.weight_decay
    )


def _callbacks(run: _Run, initial_epoch: int, extra: list[keras.callbacks.Callback] | None) -> list:
    """The learning-rate schedule, the stop on NaN and the caller's callbacks; where it writes, `log.csv` and checkpoints."""
    schedule_fn = learning_rate_schedule(run.learning_rate, run.epochs, run.schedule)
    callbacks = [keras.callbacks.LearningRateScheduler(schedule_fn), keras.callbacks.TerminateOnNaN(), *(extra or ())]
    if run.writes is not None:
        callbacks += [
            keras.callbacks.CSVLogger(str(run.writes / "log.csv"), append=initial_epoch > 0),
            _Checkpoint(run.writes),
        ]
    return callbacks


def _fit(model: keras.Model, train_data, validation_data, run: _Run, initial_epoch: int, callbacks: list) -> dict:
    """Train from `initial_epoch` to `run.epochs`; return the per-epoch history of this call."""
    if run.multi_worker:
        return fit_multi_worker(model, run.strategy, train_data, epochs=run.epochs, initial_epoch=initial_epoch,
                                callbacks=callbacks, verbose=run.verbose)
    return model.fit(
        train_data,
        validation_data=validation_data,
        epochs=run.epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        validation_freq=run.validation_freq,
        verbose=run.verbose,
    ).history


def _diverged(history: dict) -> bool:
    """Whether the loss of some epoch was NaN or infinite."""
    return any(not math.isfinite(v) for v in history.get("loss", []))


def _recalibrate_and_save(model: keras.Model, train_data, run: _Run) -> None:
    """Recalibrate the batch normalisation statistics over training batches, and save the model with them."""
    with run.scope():
        recalibrate_batch_norm(model, train_data, steps=run.recalibrate_batch_norm_steps)
    if run.writes is not None:
        _save_model_atomically(model, run.writes)


def _results(model: keras.Model, run: _Run, history: dict, validation_data, initial_epoch: int, wall: float) -> dict:
    """The results: settings, metadata, the whole run's history, this call's wall time and the final test accuracy."""
    results = {
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": {
            "epochs": run.epochs, "optimizer": run.optimizer, "learning_rate": run.learning_rate,
            "momentum": run.momentum, "nesterov": run.nesterov,
            "weight_decay": run.weight_decay, "schedule": run.schedule, "mixed_precision": run.mixed_precision,
            "jit_compile": run.jit_compile, "strategy": strategy_name(run.strategy),
            "initial_epoch": initial_epoch, "validation_freq": run.validation_freq,
            "recalibrate_batch_norm_steps": run.recalibrate_batch_norm_steps,
        },
        "metadata": run.metadata or {},
        "history": _full_history(history, run.output, initial_epoch),
        "wall_time_s": wall,
    }
    if validation_data is not None:
        results.update(_final_evaluation(model, run, history, validation_data, initial_epoch))
    return results


def _final_evaluation(model: keras.Model, run: _Run, history: dict, validation_data, initial_epoch: int) -> dict:
    """`test_loss` and `test_accuracy` of the final weights (and the accuracy before recalibration, if measured)."""
    # `fit` validated the final weights if the last epoch was a validation epoch.
    # `fit_multi_worker` never validates: every worker evaluates its part of the data here.
    validated_last = (initial_epoch < run.epochs and run.epochs % run.validation_freq == 0
                      and "val_accuracy" in history)
    if run.multi_worker:
        loss, accuracy = evaluate_multi_worker(model, run.strategy, validation_data)
    elif validated_last and not run.recalibrate_batch_norm_steps:
        loss, accuracy = history["val_loss"][-1], history["val_accuracy"][-1]
    else:
        loss, accuracy = model.evaluate(validation_data, verbose=0)[:2]
    measured = {}
    if validated_last and run.recalibrate_batch_norm_steps:
        measured["test_accuracy_before_recalibration"] = float(history["val_accuracy"][-1])
    measured["test_loss"], measured["test_accuracy"] = float(loss), float(accuracy)
    return measured


def recalibrate_batch_norm(model: keras.Model, dataset: tf.data.Dataset, *, steps: int | None = None) -> int:
    """Set every `BatchNormalization` layer's moving statistics to exact averages over batches.

    Keras keeps exponential moving averages (momentum 0.99) that start at mean 0
    and variance 1; after a few hundred steps they still carry part of those
    initial values, and inference then normalises with statistics that no
    training batch had. This runs the model in training mode (no weight update)
    over `steps` batches of `dataset` and sets each layer's moving mean and
    variance to the average of its per-batch means and variances: the
    statistics training normalised with ("precise BN", Wu & Johnson 2021).

    Args:
        model: a built `keras.Model`; nested models and layers are included.
        dataset: batches of `inputs` or `(inputs, labels, ...)`, like the training data.
        steps: batches to average over (None: one pass over `dataset`).

    Returns:
        The number of `BatchNormalization` layers recalibrated.

    Raises:
        ValueError: if `dataset` yields no batch. The model is then unchanged.

    Example:

    >>> recalibrate_batch_norm(model, train_data, steps=100)
    32
    """
    layers = [layer for layer in walk_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return 0
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a positive integer or None, got {steps!r}.")
    saved = [(layer.momentum, layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in layers]
    sums = [[0.0, 0.0] for _ in layers]
    batches = 0
    try:
        # With momentum 0 a training-mode call leaves the batch's statistics in the moving ones.
        for layer in layers:
            layer.momentum = 0.0
        for batch in dataset.take(steps) if steps is not None else dataset:
            inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(inputs, training=True)
            for total, layer in zip(sums, layers, strict=True):
                total[0] = total[0] + layer.moving_mean.numpy()
                total[1] = total[1] + layer.moving_variance.numpy()
            batches += 1
        if batches == 0:
            raise ValueError("recalibrate_batch_norm: the dataset yielded no batches; pass the training data.")
    except BaseException:
        for layer, (_, mean, variance) in zip(layers, saved, strict=True):
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
        raise
    finally:
        for layer, (momentum, _, _) in zip(layers, saved, strict=True):
            layer.momentum = momentum
    for (mean_sum, variance_sum), layer in zip(sums, layers, strict=True):
        layer.moving_mean.assign(mean_sum / batches)
        layer.moving_variance.assign(variance_sum / batches)
    return len(layers)


def _full_history(history: dict, output: Path | None, initial_epoch: int) -> dict:
    """This call's per-epoch history, preceded by the epochs before a resume (from `log.csv`)."""
    earlier: dict[str, list[float]] = {}
    log = output / "log.csv" if output is not None else None
    if initial_epoch > 0 and log is not None and log.exists():
        with open(log, newline="") as file:
            for row in csv.DictReader(file):
                if int(row["epoch"]) >= initial_epoch:
                    continue
                for name, value in row.items():
                    if name != "epoch" and value not in ("", "NA", None):
                        earlier.setdefault(name, []).append(float(value))
    names = dict.fromkeys([*earlier, *history])
    return {name: earlier.get(name, []) + [float(v) for v in history.get(name, [])] for name in names}


class _Checkpoint(keras.callbacks.Callback):
    """Saves `last.keras` and `state.json` (the next epoch) atomically after every epoch."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training and any(not math.isfinite(float(v)) for v in (logs or {}).values()):
            return  # never overwrite a good checkpoint with a diverged one
        _save_model_atomically(self.model, self.folder)
        atomic_write_bytes(
            self.folder / "state.json", json.dumps({"next_epoch": epoch + 1}).encode(), overwrite=True
        )


def load_checkpoint(path: str | os.PathLike) -> keras.Model:
    """Load a `.keras` model saved by `train`, in a fresh process too (registers keras-lie's layers)."""
    import keras_lie.layers  # noqa: F401  (importing registers the serializable classes)
    import keras_lie.models  # noqa: F401

    return keras.models.load_model(path)


RUN_FILES = ("last.keras", "state.json", "log.csv", "results.json", "run.json")


def _claim_run_folder(folder: Path, settings: dict, *, restart: bool) -> None:
    """Record the run's settings in `run.json`; refuse a folder that holds a run with other settings."""
    settings = json.loads(json.dumps(settings, default=str))  # as it reads back
    if settings["metadata"].get("key_origin") == "seed":
        # A key re-derived from its seed has the same material but a new salted fingerprint:
        # the seed (in the metadata) identifies it.
        settings["metadata"].pop("key_fingerprint", None)
    record = folder / "run.json"
    if restart:
        for name in RUN_FILES:
            (folder / name).unlink(missing_ok=True)
    elif record.exists():
        try:
            earlier = json.loads(record.read_text())
        except ValueError:
            earlier = None
        if earlier is not None and not settings["metadata"]:
            settings["metadata"] = earlier.get("metadata", {})  # a resume that describes nothing compares the rest
        if _without_epochs(earlier) != _without_epochs(settings):
            differences = _differences(earlier or {}, settings)
            raise KerasLieError(
                f"{folder} holds a run with other settings ({'; '.join(differences[:4]) or 'unreadable run.json'}); "
                "choose another output folder, or restart it (restart=True, --restart) to discard that run."
            )
        if earlier == settings:
            return
        # Only the epoch count grew: the run goes on to it, and run.json says so.
    elif (folder / "last.keras").exists() or (folder / "results.json").exists():
        raise KerasLieError(
            f"{folder} holds a run whose settings were not recorded; choose another output folder, or restart "
            "it (restart=True, --restart)."
        )
    atomic_write_bytes(record, json.dumps(settings, indent=1).encode(), overwrite=True)


def _without_epochs(settings: dict | None) -> dict | None:
    """Settings as compared for a resume: the epoch count a command recorded may grow (the run is extended)."""
    if not isinstance(settings, dict):
        return settings
    copy = json.loads(json.dumps(settings))
    recorded = copy.get("metadata", {}).get("settings")
    if isinstance(recorded, dict):
        recorded.pop("epochs", None)
    return copy


def _differences(earlier: dict, now: dict, prefix: str = "") -> list[str]:
    found = []
    for name in sorted(set(earlier) | set(now)):
        a, b = earlier.get(name), now.get(name)
        if isinstance(a, dict) and isinstance(b, dict):
            found += _differences(a, b, f"{prefix}{name}.")
        elif a != b:
            found.append(f"{prefix}{name}: {a!r} there, {b!r} now")
    return found


def _save_model_atomically(model: keras.Model, folder: Path) -> None:
    staging = folder / ".last.keras.tmp.keras"
    model.save(staging)
    os.replace(staging, folder / "last.keras")


def train_small_classifier(images, labels, key: Key, input_mode: str, *, epochs: int = 3, seed: int = 0):
    """A small classifier (block stem + PyramidNet-8) trained on `images` encrypted with `key`.

    What `keras_lie.security.kernel_leakage` examines for key leakage.
    """
    keras.utils.set_random_seed(seed)
    encrypted = get_scheme(key).encrypt(images).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((encrypted, np.asarray(labels))).shuffle(len(images), seed=seed).batch(64)
    builder = functools.partial(
        build_classifier, key, num_classes=int(np.max(labels)) + 1, input_shape=images.shape[1:],
        backbone=functools.partial(pyramidnet, depth=8, alpha=16), stem={"block_size": key.block_size},
        stem_input_mode=input_mode,
    )
    model, _ = train(builder, data, epochs=epochs, learning_rate=0.05, verbose=0)
    return model
