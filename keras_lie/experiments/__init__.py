"""Experiments: the paper's Table I and Figure 2, and the accuracy-gap study.

- `presets`: the paper's figures, `Preset`, `PRESETS`, and `prepare` (settings and data);
- `runs`: one training run (`run_configuration`), its data, finished runs read back;
- `reproduce`: Table I at one budget; `gap`: the accuracy-gap experiment (`GapRow` rows);
- `tables`: Markdown; `figures`: the bar plot and Figure 2.

Progress is reported through `logging` (logger `keras_lie.experiments`); the
command line shows it. Names are imported lazily, as in `keras_lie` itself, so
that reading the presets (the command line's `--help`) does not import TensorFlow.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "keras_lie.experiments.figures": ("figure", "plot_results"),
    "keras_lie.experiments.gap": ("GAP_ATTEMPTS", "GAP_DIAGNOSTICS", "GAP_ROWS", "TABLE_I_PYRAMIDNET_ROWS",
                                  "TABLE_I_VIT_ATTEMPTS", "TABLE_I_VIT_ROWS", "GapRow", "accuracy_gap"),
    "keras_lie.experiments.presets": ("ALL_SCHEMES", "PAPER_TABLE_I", "PRESETS", "SCHEME_LABELS", "Preset", "prepare"),
    "keras_lie.experiments.reproduce": ("TableRow", "reproduce"),
    "keras_lie.experiments.runs": ("run_configuration",),
    "keras_lie.experiments.tables": ("gap_table", "results_table"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'keras_lie.experiments' has no attribute {name!r}")
    value = globals()[name] = getattr(importlib.import_module(_WHERE[name]), name)
    return value


def __dir__():
    return sorted(__all__)
