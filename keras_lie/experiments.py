"""Reproduction of the paper's Table I and Figure 2.

`reproduce` trains the same network on plain images, the combined cat map, the
naive block-wise pixel shuffle and the proposed encryption (block size 4),
evaluates each on the equally encrypted test set, and writes a Markdown table,
JSON and a bar plot beside the paper's figures. `figure` draws Figure 2.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import platform
from pathlib import Path

import numpy as np

from keras_lie._files import atomic_write_bytes
from keras_lie.keys import BLOCK_WISE_SCHEMES, Key, generate_key

PAPER_TABLE_I = {
    "cifar10": {"plain": 0.884, "cat_map": 0.468, "block_shuffle": 0.872, "learnable": 0.863},
    "cifar100": {"plain": 0.591, "cat_map": 0.209, "block_shuffle": 0.602, "learnable": 0.568},
}
SCHEME_LABELS = {
    "plain": "plain",
    "cat_map": "combined cat map",
    "block_shuffle": "naive block-wise pixel shuffle",
    "learnable": "proposed",
}


@dataclasses.dataclass
class Preset:
    """Settings of a reproduction run; every field can be overridden."""

    data: str = "cifar10"
    train_size: int | None = None
    test_size: int | None = None
    epochs: int = 300
    batch_size: int = 128
    learning_rate: float = 0.1
    schedule: str = "cosine"
    depth: int = 110
    alpha: float = 48
    block_size: int = 4
    augment: bool = True
    seed: int = 0
    mixed_precision: bool = False
    jit_compile: bool | str = "auto"


PRESETS = {
    # The paper's setting for a GPU: PyramidNet after the block stem, full data and schedule.
    # The paper does not state its depth or schedule; these are the PyramidNet paper's CIFAR
    # settings (PyramidNet-110, alpha 48, 300 epochs).
    "paper": Preset(),
    # Fits 2 CPU cores: 10,000 training images, a small PyramidNet, 5 epochs.
    "cpu-small": Preset(train_size=10_000, test_size=10_000, epochs=5, depth=20, alpha=24),
    # A smoke run of a few minutes.
    "quick": Preset(train_size=512, test_size=256, epochs=1, depth=8, alpha=8, batch_size=64),
}

ALL_SCHEMES = ("plain", "cat_map", "block_shuffle", "learnable")


def reproduce(
    preset: str | Preset = "cpu-small",
    *,
    output_dir: str | os.PathLike = "reproduce-results",
    schemes=ALL_SCHEMES,
    stem_modes=("bytes", "nibbles"),
    data_dir: str | os.PathLike | None = None,
    verbose: int | str = 2,
    **overrides,
) -> dict:
    """Train and evaluate every scheme at one budget; write results.json, results.md, results.png.

    `stem_modes` applies to the proposed scheme (the paper's "bytes" and the
    exact-conversion "nibbles" input); the other schemes use "bytes". Each run
    keeps a resumable checkpoint under `output_dir/<row>/`.
    """
    settings, output, train_source, test_source = _prepare(preset, overrides, output_dir, data_dir)
    rows = []
    for scheme in schemes:
        for mode in (stem_modes if scheme == "learnable" else ("bytes",)):
            row_name = scheme if scheme != "learnable" else f"learnable-{mode}"
            print(f"\n== {row_name}: {SCHEME_LABELS[scheme]} (stem input {mode}) ==", flush=True)
            _, result = run_configuration(settings, train_source, test_source, scheme, output / row_name,
                                          stem={}, stem_input_mode=mode, verbose=verbose)
            rows.append({"row": row_name, "scheme": scheme, "stem_input_mode": mode,
                         "test_accuracy": result["test_accuracy"], "wall_time_s": result["wall_time_s"],
                         "epochs": settings.epochs})
    summary = {
        "preset": preset if isinstance(preset, str) else "custom",
        "settings": dataclasses.asdict(settings),
        "train": train_source.name, "train_size": train_source.size,
        "test": test_source.name, "test_size": test_source.size,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "rows": rows,
        "paper": PAPER_TABLE_I,
    }
    atomic_write_bytes(output / "results.json", json.dumps(summary, indent=1).encode(), overwrite=True)
    atomic_write_bytes(output / "results.md", results_table(summary).encode(), overwrite=True)
    plot_results(summary, output / "results.png")
    return summary


def _prepare(preset, overrides: dict, output_dir, data_dir):
    """Settings (preset with overrides), the output folder, and the train and test sources."""
    from keras_lie.data import load_source

    settings = dataclasses.replace(PRESETS[preset] if isinstance(preset, str) else preset,
                                   **{k: v for k, v in overrides.items() if v is not None})
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    train_source = load_source(settings.data, "train", data_dir=data_dir, limit=settings.train_size, seed=settings.seed)
    test_source = load_source(settings.data, "test", data_dir=data_dir, limit=settings.test_size, seed=settings.seed)
    return settings, output, train_source, test_source


def run_configuration(settings: Preset, train_source, test_source, scheme: str, output_dir, *,
                      stem: dict, stem_input_mode: str, key: Key | None = None, backbone: str = "pyramidnet",
                      seed: int | None = None, stem_data_init: bool = False, init_from_plain: bool = False,
                      validation_freq: int = 1, recalibrate_batch_norm_steps: int = 0,
                      verbose: int | str = 2):
    """Train one (scheme, stem, backbone, seed) at `settings`; return the model and `train`'s results.

    Without `key`, a key is derived from the seed (reproducible experiments),
    unless the sources are already encrypted (a trainer without the key).
    `backbone` is "pyramidnet" (after depth-to-space) or "convmixer" (on the
    grid of blocks; the stem then stops before upsampling). `stem_data_init`
    initialises the equivariant stem from the (encrypted) training images with
    `initialize_stem_from_data` (key-free). `init_from_plain` (a diagnostic that
    uses the key) starts from the exact key conversion of the initial weights the
    plain row draws with the same seed. `validation_freq` is `train`'s:
    validate on the test set every this many epochs (the final accuracy is
    always measured). `recalibrate_batch_norm_steps` is `train`'s too.
    """
    import keras

    from keras_lie.models import build_classifier, convmixer, pyramidnet
    from keras_lie.training import train

    seed = settings.seed if seed is None else seed
    keras.utils.clear_session()
    keras.utils.set_random_seed(seed)
    image_shape = tuple(train_source.dataset.element_spec[0].shape)
    key, train_data, test_data = _run_data(settings, train_source, test_source, scheme, seed, key)
    if backbone == "convmixer":
        dim = max(64, int(settings.alpha * 4))
        stem = {"upsample": False, "filters": dim, "nin_depth": 0, **stem}
        network = functools.partial(convmixer, dim=dim, depth=max(2, settings.depth // 3), kernel_size=5)
    else:
        network = functools.partial(pyramidnet, depth=settings.depth, alpha=settings.alpha)

    def build_for(model_key):
        return build_classifier(
            model_key, num_classes=train_source.num_classes, input_shape=image_shape, backbone=network,
            stem={"block_size": settings.block_size, **stem}, stem_input_mode=stem_input_mode,
        )

    builder = functools.partial(build_for, key if key is not None else scheme)
    if init_from_plain:
        from keras_lie.keys import PlainKey
        from keras_lie.models import from_plain

        if key is None or scheme not in BLOCK_WISE_SCHEMES:
            raise ValueError("init_from_plain needs the key of a block-wise scheme.")
        # The same seed draws the same initial weights as the plain row; converting them
        # makes this run the exact image of the plain run under the key.
        def builder():
            return from_plain(build_for(PlainKey(channels=image_shape[-1])), key, copy=False)

    if stem_data_init:
        from keras_lie.models import initialize_stem_from_data

        sample = next(iter(train_data))[0]  # one batch of encrypted training images; no key needed
        undecorated_builder = builder

        def builder():
            model = undecorated_builder()
            initialize_stem_from_data(model, sample.numpy())
            return model

    return train(
        builder, train_data, test_data, epochs=settings.epochs, learning_rate=settings.learning_rate,
        schedule=settings.schedule, output_dir=output_dir, mixed_precision=settings.mixed_precision,
        jit_compile=settings.jit_compile, validation_freq=validation_freq,
        recalibrate_batch_norm_steps=recalibrate_batch_norm_steps, verbose=verbose,
        metadata={"scheme": scheme, "stem": stem, "stem_input_mode": stem_input_mode, "backbone": backbone,
                  "stem_data_init": stem_data_init, "init_from_plain": init_from_plain,
                  "key_fingerprint": key.fingerprint if key is not None else None, "data": train_source.name,
                  "seed": seed, "settings": dataclasses.asdict(settings)},
    )


def _run_data(settings: Preset, train_source, test_source, scheme: str, seed: int, key: Key | None = None):
    """The key (derived from `seed` unless given or the sources are encrypted) and the run's pipelines."""
    from keras_lie.data import make_pipeline

    if key is None and not train_source.encrypted:
        block_size = settings.block_size if scheme in BLOCK_WISE_SCHEMES else None
        key = generate_key(scheme, block_size=block_size, channels=train_source.dataset.element_spec[0].shape[-1],
                           seed=seed)
    augment = settings.augment and scheme != "cat_map"
    train_data = make_pipeline(train_source, key, batch_size=settings.batch_size, training=True,
                               augment=augment, block_size=settings.block_size, seed=seed)
    test_data = make_pipeline(test_source, key, batch_size=settings.batch_size)
    return key, train_data, test_data


def _finished_run(folder: Path, settings: Preset) -> dict | None:
    """The results of a run that finished in `folder` at the same settings, or None.

    The data path is compared as a file, so `../shared/x.zip` and its absolute
    spelling are the same run.
    """
    try:
        result = json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return None
    stored = dict(result.get("metadata", {}).get("settings") or {})
    wanted = dataclasses.asdict(settings)
    if "data" in stored and _same_data(stored["data"], wanted["data"]):
        stored["data"] = wanted["data"]
    return result if stored == wanted and "test_accuracy" in result else None


def _same_data(a: str, b: str) -> bool:
    if a == b:
        return True
    return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)


def _recalibrated_accuracy(folder: Path, result: dict, train_data, test_data, seed: int) -> dict:
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


# Rows of the accuracy-gap experiment: (row name, scheme, stem arguments, stem input mode[, options]).
GAP_ROWS = (
    ("plain (bytes)", "plain", {}, "bytes"),
    ("plain (nibbles, equivariant stem)", "plain", {"input_normalization": True}, "nibbles"),
    ("proposed, paper stem (bytes)", "learnable", {}, "bytes"),
    ("proposed, equivariant stem (nibbles)", "learnable", {"input_normalization": True}, "nibbles"),
    ("naive shuffle (bytes)", "block_shuffle", {}, "bytes"),
)
# Attempts to lower the cost of the nibble representation without the key.
GAP_ATTEMPTS = (
    ("plain (nibbles, equivariant stem, data init)", "plain", {"input_normalization": True}, "nibbles",
     {"stem_data_init": True}),
    ("proposed, equivariant stem, data init", "learnable", {"input_normalization": True}, "nibbles",
     {"stem_data_init": True}),
)
# A diagnostic that uses the key (no trainer could run it): the proposed row started from the
# exact conversion of the plain (nibbles) row's initial weights, with the same data order and
# augmentation. Training is then the plain (nibbles) run up to float rounding, so how far the two
# end apart measures the run-to-run noise that rounding alone causes.
GAP_DIAGNOSTICS = (
    ("proposed, equivariant stem, initial weights converted from plain (uses the key)", "learnable",
     {"input_normalization": True}, "nibbles", {"init_from_plain": True}),
)


def accuracy_gap(preset: str | Preset = "cpu-small", *, output_dir="accuracy-gap", seeds=(0, 1, 2),
                 backbones=("pyramidnet", "convmixer"), rows=GAP_ROWS, data_dir=None, verbose: int | str = 2,
                 train_missing: bool = True, recalibrate_batch_norm: bool = True, **overrides) -> dict:
    """Every row x backbone x seed at one budget; mean and spread per row (results.json, results.md).

    Resumable: each run keeps its checkpoint under `output_dir/<backbone>/<row>/seed<k>/`,
    and a finished run (its `results.json` at the same budget) is read back, not
    trained again. Only the final test accuracy is measured (no per-epoch validation).
    With `train_missing=False` nothing is trained: the table covers the finished runs.

    With `recalibrate_batch_norm` (the default) every run is also measured after
    `keras_lie.training.recalibrate_batch_norm` over one pass of its training
    data, and the main table uses that accuracy: at short budgets Keras' moving
    averages still carry their initial values and cost several points, and not
    equally for every input representation. The table of the accuracies with the
    moving averages is kept as `table_moving_average`.
    """
    settings, output, train_source, test_source = _prepare(preset, overrides, output_dir, data_dir)
    runs = []
    for backbone in backbones:
        for name, scheme, stem, mode, *options in rows:
            for seed in seeds:
                folder = output / backbone / _slug(name) / f"seed{seed}"
                print(f"\n== {backbone} | {name} | seed {seed} ==", flush=True)
                result = _finished_run(folder, settings)
                if result is None and not train_missing:
                    print("not finished; left out", flush=True)
                    continue
                if result is None:
                    _, result = run_configuration(settings, train_source, test_source, scheme, folder, stem=stem,
                                                  stem_input_mode=mode, backbone=backbone, seed=seed,
                                                  validation_freq=settings.epochs, verbose=verbose,
                                                  **(options[0] if options else {}))
                else:
                    print(f"finished earlier: test accuracy {result['test_accuracy']:.4f}", flush=True)
                run = {"backbone": backbone, "row": name, "seed": seed,
                       "test_accuracy": result["test_accuracy"], "wall_time_s": result["wall_time_s"]}
                if recalibrate_batch_norm:
                    _, train_data, test_data = _run_data(settings, train_source, test_source, scheme, seed)
                    result = _recalibrated_accuracy(folder, result, train_data, test_data, seed)
                    run["test_accuracy_recalibrated"] = result["test_accuracy_recalibrated"]
                    print(f"with recalibrated batch normalisation: {run['test_accuracy_recalibrated']:.4f}", flush=True)
                runs.append(run)
    metric = "test_accuracy_recalibrated" if recalibrate_batch_norm else "test_accuracy"
    summary = {"preset": preset if isinstance(preset, str) else "custom", "settings": dataclasses.asdict(settings),
               "train_size": train_source.size, "test_size": test_source.size, "runs": runs,
               "table": _gap_table(runs, metric=metric), "table_moving_average": _gap_table(runs)}
    markdown = summary["table"]
    if recalibrate_batch_norm:
        markdown = ("Test accuracy after recalibrating batch normalisation:\n\n" + summary["table"]
                    + "\nTest accuracy with the moving averages of training:\n\n" + summary["table_moving_average"])
    atomic_write_bytes(output / "results.json", json.dumps(summary, indent=1).encode(), overwrite=True)
    atomic_write_bytes(output / "results.md", markdown.encode(), overwrite=True)
    return summary


def _gap_table(runs, reference_row: str = "plain (bytes)", metric: str = "test_accuracy") -> str:
    """Mean and sample std of `metric` per row, and the difference to `reference_row` paired by seed.

    A seed fixes the data order and augmentation of every row, so differences are
    taken seed by seed; the +- is their standard error (n - 1 in the std).
    """
    lines = [f"| backbone | row | mean test accuracy | std | seeds | vs {reference_row}, paired by seed |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for backbone in dict.fromkeys(r["backbone"] for r in runs):
        by_row: dict[str, dict[int, float]] = {}
        for r in runs:
            if r["backbone"] == backbone:
                by_row.setdefault(r["row"], {})[r["seed"]] = r[metric]
        reference = by_row.get(reference_row, {})
        for row, by_seed in by_row.items():
            values = list(by_seed.values())
            std = f"{np.std(values, ddof=1):.4f}" if len(values) > 1 else "n/a"
            differences = [100 * (v - reference[seed]) for seed, v in by_seed.items() if seed in reference]
            if row == reference_row:
                change = "reference"
            elif not differences:
                change = "n/a"
            elif len(differences) == 1:
                change = f"{differences[0]:+.1f} pt"
            else:
                error = np.std(differences, ddof=1) / np.sqrt(len(differences))
                change = f"{np.mean(differences):+.1f} +- {error:.1f} pt"
            lines.append(f"| {backbone} | {row} | {np.mean(values):.4f} | {std} | {len(values)} | {change} |")
    return "\n".join(lines) + "\n"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-").replace("--", "-")


def results_table(summary: dict) -> str:
    """The results as a Markdown table beside the paper's Table I."""
    dataset = "cifar100" if "100" in summary["train"] else "cifar10"
    paper = PAPER_TABLE_I[dataset]
    lines = [
        f"| scheme | stem input | test accuracy | paper ({dataset}) | training time |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in summary["rows"]:
        lines.append(
            f"| {SCHEME_LABELS[row['scheme']]} | {row['stem_input_mode']} | {row['test_accuracy']:.3f} | "
            f"{paper[row['scheme']]:.3f} | {row['wall_time_s'] / 60:.1f} min |"
        )
    settings = summary["settings"]
    lines.append("")
    lines.append(
        f"Preset `{summary['preset']}`: {summary['train_size']} training images ({summary['train']}), "
        f"{summary['test_size']} test images, PyramidNet-{settings['depth']} (alpha {settings['alpha']:g}) "
        f"after the block stem (M = {settings['block_size']}), {settings['epochs']} epochs, batch "
        f"{settings['batch_size']}, SGD lr {settings['learning_rate']} ({settings['schedule']}), seed {settings['seed']}."
    )
    return "\n".join(lines) + "\n"


def plot_results(summary: dict, path: str | os.PathLike) -> Path:
    """A bar plot of the measured accuracies beside the paper's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dataset = "cifar100" if "100" in summary["train"] else "cifar10"
    rows = summary["rows"]
    labels = [r["row"] for r in rows]
    measured = [r["test_accuracy"] for r in rows]
    paper = [PAPER_TABLE_I[dataset][r["scheme"]] for r in rows]
    x = np.arange(len(rows))
    figure, axis = plt.subplots(figsize=(1.6 * len(rows) + 2, 3.6))
    axis.bar(x - 0.2, measured, 0.4, label=f"measured ({summary['preset']})")
    axis.bar(x + 0.2, paper, 0.4, label="paper, Table I")
    axis.set_xticks(x, labels, rotation=15)
    axis.set_ylabel("test accuracy")
    axis.set_ylim(0, 1.15)
    axis.legend(loc="upper left", ncols=2)
    axis.set_title(f"Learnable image encryption on {dataset}")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def figure(images: np.ndarray, path: str | os.PathLike, *, block_size: int = 4, seed: int | None = None,
           titles=("plain", "combined cat map", "block-wise pixel shuffle", "proposed")) -> Path:
    """The paper's Figure 2: each image as plain, cat map, naive shuffle and proposed, side by side.

    Args:
        images: uint8 `(N, H, W, 3)`.
        seed: key seed (default: fresh keys from the OS CSPRNG).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_lie.schemes import get_scheme

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    channels = images.shape[-1]
    columns = [images]
    for scheme in ("cat_map", "block_shuffle", "learnable"):
        key = generate_key(scheme, block_size=block_size if scheme in BLOCK_WISE_SCHEMES else None,
                           channels=channels, seed=seed)
        columns.append(get_scheme(key).encrypt(images))
    n = len(images)
    fig, axes = plt.subplots(n, 4, figsize=(8, 2 * n + 0.4), squeeze=False)
    for row in range(n):
        for col in range(4):
            axis = axes[row][col]
            axis.imshow(columns[col][row].squeeze(), cmap="gray" if channels == 1 else None, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(titles[col], fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
