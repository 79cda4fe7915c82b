"""One training run of an experiment, its data, and reading finished runs back."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path

from keras_lie.distribute import is_multi_worker
from keras_lie.errors import KeyMismatchError
from keras_lie.experiments.presets import Preset
from keras_lie.io.atomic_files import atomic_write_bytes
from keras_lie.keys import Key, generate_key
from keras_lie.registry import scheme_record


def run_configuration(settings: Preset, train_source, test_source, scheme: str, output_dir, *,
                      stem: dict, stem_input_mode: str, key: Key | None = None, backbone: str = "pyramidnet",
                      seed: int | None = None, stem_data_init: bool = False, init_from_plain: bool = False,
                      validation_freq: int = 1, recalibrate_batch_norm_steps: int = 0,
                      use_stem: bool = True, augment: bool | None = None, strategy=None,
                      restart: bool = False, verbose: int | str = 2, callbacks=None):
    """Train one (scheme, stem, backbone, seed) at `settings`; return the model and `train`'s results.

    Without `key`, a key is derived from the seed (reproducible experiments),
    unless the sources are already encrypted (a trainer without the key).
    `backbone` is "pyramidnet" (after depth-to-space), "convmixer" (on the
    grid of blocks; the stem then stops before upsampling), or "vit" /
    "vit-shared" (the block-token ViT with per-position or shared block
    embedding, on the images themselves: no stem; `stem_input_mode` is its
    token input). `use_stem=False` puts the backbone directly on the images (no
    adaptation). `augment` overrides the preset's augmentation (None: the
    preset's, where the scheme allows it). `strategy` (see
    `keras_lie.distribute.make_strategy`) trains on several devices or workers;
    the preset's batch size is the global one, and under multi-worker training
    each worker reads its own part of the data. `stem_data_init`
    initialises the equivariant stem from the (encrypted) training images with
    `initialize_stem_from_data` (key-free). `init_from_plain` (a diagnostic that
    uses the key) starts from the exact key conversion of the initial weights the
    plain row draws with the same seed. `validation_freq` is `train`'s:
    validate on the test set every this many epochs (the final accuracy is
    always measured). `recalibrate_batch_norm_steps`, `verbose` and `callbacks` are `train`'s too.
    """
    import keras

    from keras_lie.models import build_classifier, convmixer, pyramidnet, vit
    from keras_lie.training import train

    seed = settings.seed if seed is None else seed
    keras.utils.clear_session()
    keras.utils.set_random_seed(seed)
    image_shape = tuple(train_source.dataset.element_spec[0].shape)
    key, train_data, test_data = run_data(settings, train_source, test_source, scheme, seed, key, augment=augment,
                                          strategy=strategy)
    training = {"learning_rate": settings.learning_rate}
    if backbone in ("vit", "vit-shared"):
        # Transformers train with AdamW: the preset's SGD rate scaled down, the usual ViT weight decay.
        training = {"optimizer": "adamw", "learning_rate": settings.learning_rate / 100, "weight_decay": 0.05}
        use_stem = False
        network = functools.partial(vit, block_size=settings.block_size, input_mode=stem_input_mode,
                                    shared_embedding=backbone == "vit-shared", dim=max(64, int(settings.alpha * 4)),
                                    depth=max(2, settings.depth // 5), heads=4)
    elif backbone == "convmixer":
        dim = max(64, int(settings.alpha * 4))
        stem = {"upsample": False, "filters": dim, "nin_depth": 0, **stem}
        network = functools.partial(convmixer, dim=dim, depth=max(2, settings.depth // 3), kernel_size=5)
    else:
        network = functools.partial(pyramidnet, depth=settings.depth, alpha=settings.alpha)

    def build_for(model_key):
        return build_classifier(
            model_key, num_classes=train_source.num_classes, input_shape=image_shape, backbone=network,
            stem={"block_size": settings.block_size, **stem} if use_stem else False, stem_input_mode=stem_input_mode,
        )

    manifest = train_source.manifest
    if key is None and manifest is not None and manifest.scheme != scheme:
        raise KeyMismatchError(
            f"The encrypted data says it is {manifest.scheme!r} images ({train_source.name}), not {scheme!r}; "
            f"train for {manifest.scheme!r} (or leave the scheme, --scheme, out: the data's manifest gives it)."
        )
    described = key if key is not None else (manifest if manifest is not None else scheme)
    builder = functools.partial(build_for, described)
    if init_from_plain:
        from keras_lie.keys import PlainKey
        from keras_lie.models import from_plain

        if key is None or not scheme_record(scheme).is_block_wise:
            raise ValueError("init_from_plain needs the key of a block-wise scheme.")
        # The same seed draws the same initial weights as the plain row; converting them
        # makes this run the exact image of the plain run under the key.
        def builder():
            return from_plain(build_for(PlainKey(channels=image_shape[-1])), key, copy=False)

    if stem_data_init:
        from keras_lie.models import initialize_stem_from_data

        if callable(train_data):  # multi-worker: a function of each worker's input context
            raise ValueError("stem_data_init is not supported with multi-worker training; initialise the stem "
                             "from one batch and train from that model instead.")
        sample = next(iter(train_data))[0]  # one batch of encrypted training images; no key needed
        undecorated_builder = builder

        def builder():
            model = undecorated_builder()
            initialize_stem_from_data(model, sample.numpy())
            return model

    return train(
        builder, train_data, test_data, epochs=settings.epochs, **training,
        schedule=settings.schedule, output_dir=output_dir, mixed_precision=settings.mixed_precision,
        jit_compile=settings.jit_compile, validation_freq=validation_freq,
        recalibrate_batch_norm_steps=recalibrate_batch_norm_steps, restart=restart, verbose=verbose,
        strategy=strategy, callbacks=callbacks,
        metadata={"scheme": scheme, "stem": stem if use_stem else None, "stem_input_mode": stem_input_mode,
                  "backbone": backbone, "augment": augment,
                  "stem_data_init": stem_data_init, "init_from_plain": init_from_plain,
                  "key_fingerprint": key.fingerprint if key is not None else (manifest.key_fingerprint if manifest
                                                                              else None),
                  "key_origin": key.origin if key is not None else None,
                  "data": train_source.name, "class_names": train_source.class_names,
                  "seed": seed, "settings": dataclasses.asdict(settings)},
    )


def run_data(settings: Preset, train_source, test_source, scheme: str, seed: int, key: Key | None = None, *,
             augment: bool | None = None, strategy=None):
    """The key (derived from `seed` unless given or the sources are encrypted) and the run's pipelines.

    `augment` None: the preset's augmentation where the scheme allows it (not for
    the cat map and the position-keyed schemes, with which no spatial
    augmentation of encrypted images commutes). Under a multi-worker `strategy`
    the pipelines are functions of the `tf.distribute.InputContext`: each worker
    reads and decodes only its own equal part of the files (`ImageSource.shard`),
    batched per replica, so no example is read or trained on twice.
    """
    from keras_lie.data import make_pipeline

    if key is None and not train_source.encrypted:
        shape = train_source.dataset.element_spec[0].shape
        block_size = settings.block_size if scheme_record(scheme).takes_block_size else None
        key = generate_key(scheme, block_size=block_size, channels=shape[-1], seed=seed, image_size=tuple(shape[:2]))
    if augment is None:
        augment = settings.augment and bool(scheme_record(scheme).augmentations)
    def pipeline(source, training, context=None):
        if context is not None:  # this worker's part, batched per replica
            source = source.shard(context.num_input_pipelines, context.input_pipeline_id)
        batch = settings.batch_size if context is None else context.get_per_replica_batch_size(settings.batch_size)
        return make_pipeline(source, key, batch_size=batch, training=training, augment=augment and training,
                             block_size=settings.block_size, seed=seed)

    if is_multi_worker(strategy):
        return (key, functools.partial(pipeline, train_source, True), functools.partial(pipeline, test_source, False))
    return key, pipeline(train_source, True), pipeline(test_source, False)


def finished_run(folder: Path, settings: Preset) -> dict | None:
    """The results of a run that finished in `folder` at the same settings, or None.

    The data path is compared as a file, so `../shared/x.zip` and its absolute
    spelling are the same run.
    """
    try:
        result = json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return None
    stored = dict(result.get("metadata", {}).get("settings") or {})
    stored.setdefault("holdout", None)  # runs made before the setting existed had none
    wanted = dataclasses.asdict(settings)
    if "data" in stored and _same_data(stored["data"], wanted["data"]):
        stored["data"] = wanted["data"]
    return result if stored == wanted and "test_accuracy" in result else None


def _same_data(a: str, b: str) -> bool:
    if a == b:
        return True
    return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)


def recalibrated_accuracy(folder: Path, result: dict, train_data, test_data, seed: int) -> dict:
    """The run's test accuracy after `recalibrate_batch_norm` over one pass of its training data.

    Computed once from the run's `last.keras` (which stays as trained) and kept
    in its `results.json`, so finished runs are measured the same way as new ones.
    """
    import keras

    from keras_lie.training import load_checkpoint, recalibrate_batch_norm

    if "test_accuracy_recalibrated" in result:
        return result
    keras.utils.clear_session()
    keras.utils.set_random_seed(seed)  # training-mode layers (drop paths) draw the same way
    model = load_checkpoint(folder / "last.keras")
    batches = int(train_data.cardinality())
    if batches < 0:  # unknown cardinality: count the batches of one pass
        batches = sum(1 for _ in train_data)
    recalibrate_batch_norm(model, train_data, steps=batches)
    loss, accuracy = model.evaluate(test_data, verbose=0)[:2]
    result = {**result, "test_accuracy_recalibrated": float(accuracy), "test_loss_recalibrated": float(loss),
              "recalibration_batches": batches}
    atomic_write_bytes(folder / "results.json", json.dumps(result, indent=1).encode(), overwrite=True)
    return result
