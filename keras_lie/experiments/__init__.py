"""Experiments: the paper's Table I and Figure 2, and the accuracy-gap study.

- `presets`: the paper's figures, `Preset`, `PRESETS`, and `prepare` (settings and data);
- `runs`: one training run (`run_configuration`), its data, finished runs read back;
- `reproduce`: Table I at one budget; `gap`: the accuracy-gap experiment (`GapRow` rows);
- `tables`: Markdown; `figures`: the bar plot and Figure 2.

Progress is reported through `logging` (logger `keras_lie.experiments`); the
command line shows it.
"""

from keras_lie.experiments.figures import figure, plot_results
from keras_lie.experiments.gap import (
    GAP_ATTEMPTS,
    GAP_DIAGNOSTICS,
    GAP_ROWS,
    TABLE_I_PYRAMIDNET_ROWS,
    TABLE_I_VIT_ATTEMPTS,
    TABLE_I_VIT_ROWS,
    GapRow,
    accuracy_gap,
)
from keras_lie.experiments.presets import ALL_SCHEMES, PAPER_TABLE_I, PRESETS, SCHEME_LABELS, Preset, prepare
from keras_lie.experiments.reproduce import TableRow, reproduce
from keras_lie.experiments.runs import run_configuration
from keras_lie.experiments.tables import gap_table, results_table

__all__ = [
    "ALL_SCHEMES",
    "GAP_ATTEMPTS",
    "GAP_DIAGNOSTICS",
    "GAP_ROWS",
    "PAPER_TABLE_I",
    "PRESETS",
    "SCHEME_LABELS",
    "TABLE_I_PYRAMIDNET_ROWS",
    "TABLE_I_VIT_ATTEMPTS",
    "TABLE_I_VIT_ROWS",
    "GapRow",
    "Preset",
    "TableRow",
    "accuracy_gap",
    "figure",
    "gap_table",
    "plot_results",
    "prepare",
    "reproduce",
    "results_table",
    "run_configuration",
]
