"""Training on several devices and machines with `tf.distribute`.

`make_strategy` turns `--distribute {none,mirrored,multi-worker,tpu}` into a
strategy: `multi-worker` reads the cluster from `TF_CONFIG`, TensorFlow's
convention (one JSON document per process: the cluster's workers and this
process's task). Batch sizes are global: with R replicas each takes
`batch_size / R` examples a step, and the learning rate stays the one for the
global batch (scale it yourself, linearly, if you raise the global batch).

Keras 3's `fit` does not run under `MultiWorkerMirroredStrategy`
(keras-team/keras#20585), so `fit_multi_worker` is the synchronous data-parallel
loop of TensorFlow's custom-training guide: `strategy.run` of one step per
replica, the loss averaged over the global batch, gradients all-reduced by the
optimizer. Every worker reads its own part of the data (see
`ImageSource.shard` and `tf.distribute.InputContext`).
"""

from __future__ import annotations

import json
import math
import os

import keras
import tensorflow as tf

from keras_lie.errors import KerasLieError
from keras_lie.options import DISTRIBUTE_MODES


def make_strategy(mode: str = "none") -> tf.distribute.Strategy | None:
    """The strategy for `mode` ("none", "mirrored", "multi-worker", "tpu"); None for "none".

    Raises:
        KerasLieError: `multi-worker` without a usable `TF_CONFIG`, or `tpu` without a TPU.
    """
    if mode not in DISTRIBUTE_MODES:
        raise ValueError(f"distribute must be one of {DISTRIBUTE_MODES}, not {mode!r}.")
    if mode == "none":
        return None
    if mode == "mirrored":
        return tf.distribute.MirroredStrategy()
    if mode == "multi-worker":
        cluster_config()  # a clear error before TensorFlow's
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise KerasLieError(
            f"--distribute tpu found no TPU ({str(error).splitlines()[0][:200]}); run on a TPU VM, or choose "
            "--distribute mirrored (local GPUs) or multi-worker."
        ) from None
    return tf.distribute.TPUStrategy(resolver)


def cluster_config() -> dict:
    """This process's `TF_CONFIG`, checked: a cluster with workers and this process's task among them."""
    text = os.environ.get("TF_CONFIG")
    example = ('{"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 0}}')
    if not text:
        raise KerasLieError(
            "--distribute multi-worker reads the cluster from the TF_CONFIG environment variable, which is not set. "
            f"Set it on every worker, with that worker's own index, e.g. TF_CONFIG='{example}'."
        )
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task = config["task"]
        index = int(task["index"])
    except (ValueError, KeyError, TypeError):
        raise KerasLieError(f"TF_CONFIG is not a cluster description like '{example}'.") from None
    if task.get("type") not in ("worker", "chief") or not isinstance(workers, list) or not (
            0 <= index < len(config["cluster"].get(task["type"], []))):
        raise KerasLieError(f"TF_CONFIG's task {task!r} is not one of its cluster's workers; see '{example}'.")
    return config


def strategy_name(strategy: tf.distribute.Strategy | None) -> str | None:
    """The public name of a strategy's class (MultiWorkerMirroredStrategy is implemented by another)."""
    if strategy is None:
        return None
    return "MultiWorkerMirroredStrategy" if is_multi_worker(strategy) else type(strategy).__name__


def is_multi_worker(strategy: tf.distribute.Strategy | None) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether this process writes checkpoints and logs: always, except a non-chief multi-worker task.

    The chief is the `chief` task if the cluster has one, else worker 0.
    """
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs


def distribute_input(strategy: tf.distribute.Strategy, data) -> tf.distribute.DistributedDataset:
    """Data for `fit_multi_worker`: a function of the `InputContext` (each worker builds its own part,
    batched per replica), or a dataset of global batches (each worker reads all of it and keeps its part)."""
    if callable(data) and not isinstance(data, tf.data.Dataset):
        return strategy.distribute_datasets_from_function(data)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(data.with_options(options))


def fit_multi_worker(model: keras.Model, strategy: tf.distribute.Strategy, train_data, *, epochs: int,
                     initial_epoch: int = 0, callbacks: list[keras.callbacks.Callback] | None = None,
                     verbose: int | str = 0) -> dict:
    """Synchronous data-parallel training of a compiled model, driving Keras callbacks as `fit` does.

    Every worker runs the same number of steps per epoch (the data's parts are
    equal), each replica on its share of the global batch; the loss is the mean
    over the global batch (plus regularisation losses scaled per replica). After
    every epoch the non-trainable variables (batch normalisation's moving
    statistics, which follow each replica's own batches) are averaged over the
    replicas, so every worker holds the same model. Each worker builds its
    dataset once: an in-memory cache in it serves every epoch, and its shuffle
    draws a new order each epoch.

    Args:
        callbacks: called as under `fit` (`LearningRateScheduler`, `TerminateOnNaN`,
            `CSVLogger`, checkpoints); the logs are the epoch's mean `loss` and
            `accuracy` so far. A callback that sets `model.stop_training` stops the
            run after the batch, as under `fit`.
        verbose: 0, or 1 / "auto" for Keras' progress bar on the chief.

    Returns:
        The history: a list per log name (loss, accuracy and what callbacks add).
    """
    optimizer = model.optimizer
    distributed = distribute_input(strategy, train_data)
    show = verbose != 0 and is_chief(strategy)
    callback_list = keras.callbacks.CallbackList(
        callbacks, add_history=True, add_progbar=show, model=model, verbose=1 if show else 0, epochs=epochs,
        steps=None,  # the parts' step count is not known before the first epoch
    )

    @tf.function
    def train_step(images, labels):
        def replica_step(images, labels):
            with tf.GradientTape() as tape:
                probabilities = model(images, training=True)
                per_example = keras.losses.sparse_categorical_crossentropy(labels, probabilities)
                loss = tf.nn.compute_average_loss(per_example)
                if model.losses:
                    loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
            return (loss, *_hits(labels, probabilities))

        results = strategy.run(replica_step, args=(images, labels))
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None) for value in results]

    @tf.function
    def average_statistics():
        # Gradients are all-reduced, so trainable weights agree; batch normalisation's moving statistics
        # follow each worker's own batches. Averaging them keeps one model on every worker.
        def replica_average():
            context = tf.distribute.get_replica_context()
            values = [tf.identity(variable.value) for variable in statistics]
            for variable, mean in zip(statistics, context.all_reduce(tf.distribute.ReduceOp.MEAN, values),
                                      strict=True):
                variable.assign(mean)

        strategy.run(replica_average)

    statistics = list(model.non_trainable_variables)
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        loss_sum, steps, correct, seen = 0.0, 0, 0.0, 0.0
        logs: dict[str, float] = {}
        for step, (images, labels) in enumerate(distributed):
            callback_list.on_train_batch_begin(step)
            loss, hits, count = train_step(images, labels)
            loss_sum, steps = loss_sum + float(loss), steps + 1
            correct, seen = correct + float(hits), seen + float(count)
            logs = {"loss": loss_sum / steps, "accuracy": correct / max(1.0, seen)}
            callback_list.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        if statistics and math.isfinite(logs.get("loss", 0.0)):
            average_statistics()
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end()
    return model.history.history  # Keras' History, added last, as fit adds it: it sees what callbacks add


def evaluate_multi_worker(model: keras.Model, strategy: tf.distribute.Strategy, data) -> tuple[float, float]:
    """(loss, accuracy) over all workers' parts of `data`."""
    distributed = distribute_input(strategy, data)

    @tf.function
    def test_step(images, labels):
        def replica_step(images, labels):
            probabilities = model(images, training=False)
            per_example = keras.losses.sparse_categorical_crossentropy(labels, probabilities)
            return (tf.reduce_sum(per_example), *_hits(labels, probabilities))

        results = strategy.run(replica_step, args=(images, labels))
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None) for value in results]

    total_loss, correct, seen = 0.0, 0.0, 0.0
    for images, labels in distributed:
        loss, hits, count = test_step(images, labels)
        total_loss, correct, seen = total_loss + float(loss), correct + float(hits), seen + float(count)
    return total_loss / max(1.0, seen), correct / max(1.0, seen)


def _hits(labels, probabilities):
    """(correct predictions, examples) of one replica's batch, as floats for a cross-replica sum."""
    correct = tf.cast(tf.equal(tf.argmax(probabilities, -1), tf.cast(labels, tf.int64)), tf.float32)
    return tf.reduce_sum(correct), tf.cast(tf.size(labels), tf.float32)
