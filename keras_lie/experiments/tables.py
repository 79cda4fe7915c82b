"""Markdown tables of the experiments."""

from __future__ import annotations

import numpy as np

from keras_lie.experiments.presets import PAPER_TABLE_I, PUBLISHED_CIFAR10, SCHEME_LABELS
from keras_lie.registry import scheme_record


def gap_table(runs, reference_row: str = "plain (bytes)", metric: str = "test_accuracy") -> str:
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


def results_table(summary: dict) -> str:
    """The results as a Markdown table beside the paper's Table I (and Madono et al.'s figures for ELE, EtC)."""
    dataset = "cifar100" if "100" in summary["train"] else "cifar10"
    paper = PAPER_TABLE_I[dataset]
    lines = [
        f"| scheme | network | backbone | input | test accuracy | paper ({dataset}) | training time |",
        "| --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    for row in summary["rows"]:
        published = paper.get(row["scheme"]) if row.get("backbone", "pyramidnet") == "pyramidnet" else None
        position_keyed = scheme_record(row["scheme"]).is_position_keyed
        if position_keyed and dataset == "cifar10" and row.get("network") == "no adaptation":
            published = PUBLISHED_CIFAR10[row["scheme"]]
        lines.append(
            f"| {SCHEME_LABELS[row['scheme']]} | {row.get('network', 'paper stem')} | {row.get('backbone', 'pyramidnet')} "
            f"| {row['stem_input_mode']} | {row['test_accuracy']:.3f} | "
            f"{'n/a' if published is None else f'{published:.3f}'} | {row['wall_time_s'] / 60:.1f} min |"
        )
    settings = summary["settings"]
    recalibrated = "after recalibrating batch normalisation" if summary.get("recalibrate_batch_norm") else \
        "with the moving averages of batch normalisation"
    lines.append("")
    lines.append(
        f"Preset `{summary['preset']}`: {summary['train_size']} training images ({summary['train']}), "
        f"{summary['test_size']} test images, PyramidNet-{settings['depth']} (alpha {settings['alpha']:g}) "
        f"after the block stem (M = {settings['block_size']}), {settings['epochs']} epochs, batch "
        f"{settings['batch_size']}, SGD lr {settings['learning_rate']} ({settings['schedule']}), seed "
        f"{settings['seed']}; test accuracy {recalibrated}. ELE and EtC's published figures (no adaptation) "
        "are Madono et al.'s Table 3 (Shake-PyramidNet-110, full CIFAR-10)."
    )
    return "\n".join(lines) + "\n"
