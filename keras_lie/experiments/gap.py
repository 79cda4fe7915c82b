"""The accuracy-gap experiment: every row x backbone x seed, resumable, with paired differences."""

from __future__ import annotations

import dataclasses
import json
import logging

from keras_lie.experiments.presets import Preset, prepare
from keras_lie.experiments.runs import finished_run, recalibrated_accuracy, run_configuration, run_data
from keras_lie.experiments.tables import gap_table
from keras_lie.io.atomic_files import atomic_write_bytes

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class GapRow:
    """One row of the accuracy-gap table: a scheme with a stem configuration.

    Attributes:
        name: the row's label in the table (and, slugged, its folder).
        scheme: the encryption scheme of its data.
        stem: `BlockStem` arguments beyond the block size.
        stem_input_mode: "bytes" or "nibbles".
        options: further `run_configuration` arguments (`stem_data_init`, `init_from_plain`,
            `use_stem`, `augment`).
    """

    name: str
    scheme: str
    stem: dict = dataclasses.field(default_factory=dict)
    stem_input_mode: str = "bytes"
    options: dict = dataclasses.field(default_factory=dict)

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.name.lower()).strip("-").replace("--", "-")


GAP_ROWS = (
    GapRow("plain (bytes)", "plain"),
    GapRow("plain (nibbles, equivariant stem)", "plain", {"input_normalization": True}, "nibbles"),
    GapRow("proposed, paper stem (bytes)", "learnable"),
    GapRow("proposed, equivariant stem (nibbles)", "learnable", {"input_normalization": True}, "nibbles"),
    GapRow("naive shuffle (bytes)", "block_shuffle"),
)
# Attempts to lower the cost of the nibble representation without the key.
GAP_ATTEMPTS = (
    GapRow("plain (nibbles, equivariant stem, data init)", "plain", {"input_normalization": True}, "nibbles",
           {"stem_data_init": True}),
    GapRow("proposed, equivariant stem, data init", "learnable", {"input_normalization": True}, "nibbles",
           {"stem_data_init": True}),
)
# A diagnostic that uses the key (no trainer could run it): the proposed row started from the
# exact conversion of the plain (nibbles) row's initial weights, with the same data order and
# augmentation. Training is then the plain (nibbles) run up to float rounding, so how far the two
# end apart measures the run-to-run noise that rounding alone causes.
GAP_DIAGNOSTICS = (
    GapRow("proposed, equivariant stem, initial weights converted from plain (uses the key)", "learnable",
           {"input_normalization": True}, "nibbles", {"init_from_plain": True}),
)


# The extended Table I: the position-keyed schemes (ELE, EtC) beside plain images.
# With the block-token ViT (backbone "vit": per-position normalisation and embedding); no
# spatial augmentation commutes with ELE or EtC, so the plain references go without it too.
TABLE_I_VIT_ROWS = (
    GapRow("plain (bytes, no augmentation)", "plain", options={"augment": False}),
    GapRow("plain (nibbles, no augmentation)", "plain", stem_input_mode="nibbles", options={"augment": False}),
    GapRow("ELE (nibbles)", "ele", stem_input_mode="nibbles"),
    GapRow("EtC (bytes)", "etc"),
)
# Key-free attempts to lower the cost of nibble tokens (the ViT's counterpart of the stem's data init).
TABLE_I_VIT_ATTEMPTS = (
    GapRow("plain (nibbles, no augmentation, data init)", "plain", stem_input_mode="nibbles",
           options={"augment": False, "stem_data_init": True}),
    GapRow("ELE (nibbles, data init)", "ele", stem_input_mode="nibbles", options={"stem_data_init": True}),
)
# With the paper's network (backbone "pyramidnet"): its block stem, and no adaptation at all.
TABLE_I_PYRAMIDNET_ROWS = (
    GapRow("ELE, paper stem (bytes)", "ele"),
    GapRow("EtC, paper stem (bytes)", "etc"),
    GapRow("ELE, no adaptation", "ele", options={"use_stem": False}),
    GapRow("EtC, no adaptation", "etc", options={"use_stem": False}),
)


def accuracy_gap(preset: str | Preset = "cpu-small", *, output_dir="accuracy-gap", seeds=(0, 1, 2),
                 backbones=("pyramidnet", "convmixer"), rows: tuple[GapRow, ...] = GAP_ROWS, data_dir=None,
                 verbose: int | str = 2, train_missing: bool = True, recalibrate_batch_norm: bool = True, **overrides) -> dict:
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
    settings, output, train_source, test_source = prepare(preset, overrides, output_dir, data_dir)
    runs = []
    for backbone in backbones:
        for row in rows:
            for seed in seeds:
                folder = output / backbone / row.slug / f"seed{seed}"
                logger.info("== %s | %s | seed %s ==", backbone, row.name, seed)
                result = finished_run(folder, settings)
                if result is None and not train_missing:
                    logger.info("not finished; left out")
                    continue
                if result is None:
                    _, result = run_configuration(settings, train_source, test_source, row.scheme, folder,
                                                  stem=row.stem, stem_input_mode=row.stem_input_mode,
                                                  backbone=backbone, seed=seed, validation_freq=settings.epochs,
                                                  verbose=verbose, **row.options)
                else:
                    logger.info("finished earlier: test accuracy %.4f", result["test_accuracy"])
                run = {"backbone": backbone, "row": row.name, "seed": seed,
                       "test_accuracy": result["test_accuracy"], "wall_time_s": result["wall_time_s"]}
                if recalibrate_batch_norm:
                    _, train_data, test_data = run_data(settings, train_source, test_source, row.scheme, seed,
                                                        augment=row.options.get("augment"))
                    result = recalibrated_accuracy(folder, result, train_data, test_data, seed)
                    run["test_accuracy_recalibrated"] = result["test_accuracy_recalibrated"]
                    logger.info("with recalibrated batch normalisation: %.4f", run["test_accuracy_recalibrated"])
                runs.append(run)
    metric = "test_accuracy_recalibrated" if recalibrate_batch_norm else "test_accuracy"
    summary = {"preset": preset if isinstance(preset, str) else "custom", "settings": dataclasses.asdict(settings),
               "train_size": train_source.size, "test_size": test_source.size, "runs": runs,
               "table": gap_table(runs, metric=metric), "table_moving_average": gap_table(runs)}
    markdown = summary["table"]
    if recalibrate_batch_norm:
        markdown = ("Test accuracy after recalibrating batch normalisation:\n\n" + summary["table"]
                    + "\nTest accuracy with the moving averages of training:\n\n" + summary["table_moving_average"])
    atomic_write_bytes(output / "results.json", json.dumps(summary, indent=1).encode(), overwrite=True)
    atomic_write_bytes(output / "results.md", markdown.encode(), overwrite=True)
    return summary
