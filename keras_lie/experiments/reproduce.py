"""`reproduce`: the paper's Table I at one budget (results.json, results.md, results.png)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import time

import keras

from keras_lie.distribute import is_multi_worker
from keras_lie.errors import KerasLieError
from keras_lie.experiments.figures import plot_results
from keras_lie.experiments.presets import ALL_SCHEMES, PAPER_TABLE_I, SCHEME_LABELS, Preset, prepare
from keras_lie.experiments.runs import run_configuration
from keras_lie.experiments.tables import results_table
from keras_lie.io.atomic_files import atomic_write_bytes
from keras_lie.registry import scheme_record

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TableRow:
    """One measured row of the reproduced Table I."""

    row: str
    scheme: str
    stem_input_mode: str
    test_accuracy: float
    wall_time_s: float
    epochs: int
    backbone: str = "pyramidnet"
    network: str = "paper stem"  # what adapts the network to the scheme: "paper stem", "keras-lie recipe", ...


@dataclasses.dataclass(frozen=True)
class RowPlan:
    """A row to train: its scheme, backbone and `run_configuration` options."""

    row: str
    scheme: str
    network: str
    backbone: str = "pyramidnet"
    stem_input_mode: str = "bytes"
    stem: dict = dataclasses.field(default_factory=dict)
    options: dict = dataclasses.field(default_factory=dict)


# keras-lie's recipe for the proposed scheme: the key-equivariant stem (per-feature input
# normalisation before the block embedding, nibble input) initialised from the encrypted
# training images (key-free), measured after recalibrating batch normalisation.
RECIPE = {"stem": {"input_normalization": True}, "stem_input_mode": "nibbles", "options": {"stem_data_init": True}}


def table_i_rows(schemes=ALL_SCHEMES, stem_modes=("bytes", "nibbles", "recipe")) -> list[RowPlan]:
    """The rows of the (extended) Table I for `schemes`.

    The paper's schemes get one row each with the paper's block stem, the
    proposed scheme one per `stem_modes` entry ("bytes" and "nibbles": the
    paper's stem on bytes or nibbles; "recipe": keras-lie's `RECIPE`). The
    position-keyed schemes (ELE, EtC) get three: the paper's stem, no
    adaptation (PyramidNet on the encrypted images), and the block-token ViT
    with per-position embedding (for ELE on nibble tokens with the key-free data
    initialisation); with them come plain images through the same ViT and
    tokens, without augmentation as ELE and EtC must go, as their reference.
    """
    rows: list[RowPlan] = []
    for scheme in schemes:
        if scheme == "learnable":
            for mode in stem_modes:
                if mode == "recipe":
                    rows.append(RowPlan("learnable-recipe", scheme, "keras-lie recipe", **RECIPE))
                else:
                    rows.append(RowPlan(f"learnable-{mode}", scheme, "paper stem", stem_input_mode=mode))
        elif scheme_record(scheme).is_position_keyed:
            # ELE needs nibble tokens, which the ViT's key-free data initialisation weights like bytes.
            tokens, init = ("nibbles", {"stem_data_init": True}) if scheme == "ele" else ("bytes", {})
            network = "block-token ViT" + (", data init" if init else "")
            reference = RowPlan(f"plain-vit-{tokens}", "plain", network + ", no augmentation", "vit", tokens,
                                options={"augment": False, **init})
            if reference not in rows:
                rows.append(reference)
            rows += [RowPlan(f"{scheme}-paper-stem", scheme, "paper stem"),
                     RowPlan(f"{scheme}-no-adaptation", scheme, "no adaptation", options={"use_stem": False}),
                     RowPlan(f"{scheme}-vit", scheme, network, "vit", tokens, options=init)]
        else:
            rows.append(RowPlan(scheme, scheme, "paper stem"))
    return rows


class TableProgress(keras.callbacks.Callback):
    """Logs one line per epoch: the table row, the epoch, its metrics and the time left for the table.

    The estimate is the time per epoch trained in this process (epochs resumed
    from checkpoints cost nothing) times the epochs left in all rows.
    """

    def __init__(self, rows: int, epochs: int):
        super().__init__()
        self.rows, self.epochs, self.row = rows, epochs, 0
        self._trained, self._started = 0, None

    def on_epoch_begin(self, epoch, logs=None):
        if self._started is None:
            self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self._trained += 1
        done = self.row * self.epochs + epoch + 1
        left = (time.perf_counter() - self._started) / self._trained * (self.rows * self.epochs - done)
        logs = logs or {}
        metrics = " ".join(f"{name} {float(logs[name]):.4f}"
                           for name in ("loss", "accuracy", "val_loss", "val_accuracy") if name in logs)
        logger.info("row %d/%d epoch %d/%d: %s | table %d%% done, about %s left", self.row + 1, self.rows,
                    epoch + 1, self.epochs, metrics, 100 * done // (self.rows * self.epochs), _duration(left))


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{seconds:.0f} s" if seconds < 60 else f"{minutes} min" if minutes < 60 else \
        f"{minutes // 60} h {minutes % 60:02d} min"


def reproduce(
    preset: str | Preset = "cpu-small",
    *,
    output_dir: str | os.PathLike = "reproduce-results",
    schemes=ALL_SCHEMES,
    stem_modes=("bytes", "nibbles", "recipe"),
    recalibrate_batch_norm: bool = True,
    data_dir: str | os.PathLike | None = None,
    verbose: int | str = 2,
    strategy=None,
    **overrides,
) -> dict:
    """Train and evaluate every row of `table_i_rows(schemes, stem_modes)`; write results.json, .md, .png.

    With `recalibrate_batch_norm` (the default), each run's final accuracy is
    measured after recalibrating batch normalisation over one pass of its
    training data (at short budgets Keras' moving averages still hold their
    initial values). Each run keeps a resumable checkpoint under
    `output_dir/<row>/`. `strategy`: see `keras_lie.distribute.make_strategy`.
    `verbose`: 2 logs one line per epoch (the row, the epoch, its metrics and the
    whole table's time left, via the `keras_lie` logger), 1 adds Keras' per-step
    progress bar before it (for a terminal), 0 is silent.
    """
    if is_multi_worker(strategy) and (recalibrate_batch_norm or "recipe" in stem_modes):
        raise KerasLieError(
            "Under multi-worker training, batch normalisation cannot be recalibrated and the recipe's stem cannot be "
            "initialised from data; pass --no-recalibration and --stem-inputs bytes,nibbles "
            "(recalibrate_batch_norm=False, stem_modes=('bytes', 'nibbles'))."
        )
    settings, output, train_source, test_source = prepare(preset, overrides, output_dir, data_dir)
    passes = -(-train_source.size // settings.batch_size) if recalibrate_batch_norm else 0
    plans = table_i_rows(schemes, stem_modes)
    clock = TableProgress(len(plans), settings.epochs) if verbose else None
    # Off a terminal, the table's line per epoch replaces Keras' own; on one, it follows Keras' bar.
    fit_verbose = 0 if verbose == 2 else verbose
    rows = []
    for index, plan in enumerate(plans):
        logger.info("== row %d of %d, %s: %s, %s (%s, input %s) ==", index + 1, len(plans), plan.row,
                    SCHEME_LABELS[plan.scheme], plan.network, plan.backbone, plan.stem_input_mode)
        if clock is not None:
            clock.row = index
        _, result = run_configuration(settings, train_source, test_source, plan.scheme, output / plan.row,
                                      stem=plan.stem, stem_input_mode=plan.stem_input_mode, backbone=plan.backbone,
                                      recalibrate_batch_norm_steps=passes, verbose=fit_verbose, strategy=strategy,
                                      callbacks=[clock] if clock is not None else None, **plan.options)
        rows.append(TableRow(plan.row, plan.scheme, plan.stem_input_mode, result["test_accuracy"],
                             result["wall_time_s"], settings.epochs, plan.backbone, plan.network))
    summary = {
        "preset": preset if isinstance(preset, str) else "custom",
        "settings": dataclasses.asdict(settings),
        "train": train_source.name, "train_size": train_source.size,
        "test": test_source.name, "test_size": test_source.size,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "recalibrate_batch_norm": recalibrate_batch_norm,
        "rows": [dataclasses.asdict(row) for row in rows],
        "paper": PAPER_TABLE_I,
    }
    atomic_write_bytes(output / "results.json", json.dumps(summary, indent=1).encode(), overwrite=True)
    atomic_write_bytes(output / "results.md", results_table(summary).encode(), overwrite=True)
    plot_results(summary, output / "results.png")
    return summary
