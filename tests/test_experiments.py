import json
import os

import numpy as np
import pytest

from keras_lie.experiments import PAPER_TABLE_I, PRESETS, figure, reproduce, results_table


def test_presets_are_complete():
    assert {"paper", "cpu-small", "quick"} <= set(PRESETS)
    assert PRESETS["cpu-small"].train_size == 10_000 and PRESETS["paper"].train_size is None
    assert PAPER_TABLE_I["cifar10"]["learnable"] == 0.863


def test_quick_reproduce_on_a_tiny_zip(image_zip, tmp_path, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="keras_lie"):
        summary = reproduce(
            "quick", output_dir=tmp_path, data=str(image_zip), epochs=1, batch_size=4,
            schemes=("plain", "cat_map", "block_shuffle", "learnable"), verbose=2,
        )
    # Progress: one line per epoch with the row, the epoch and the table's time left.
    lines = [record.getMessage() for record in caplog.records if " epoch " in record.getMessage()]
    assert len(lines) == 6 and lines[0].startswith("row 1/6 epoch 1/1: loss ") and "about" in lines[0]
    assert "table 100% done" in lines[-1]
    rows = {row["row"]: row for row in summary["rows"]}
    assert set(rows) == {"plain", "cat_map", "block_shuffle", "learnable-bytes", "learnable-nibbles",
                         "learnable-recipe"}
    assert all(0 <= row["test_accuracy"] <= 1 for row in rows.values())
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["settings"]["depth"] == PRESETS["quick"].depth and saved["preset"] == "quick"
    table = (tmp_path / "results.md").read_text()
    assert "| proposed | paper stem | pyramidnet | nibbles |" in table and "0.863" in table
    assert "| proposed | keras-lie recipe |" in table and "after recalibrating" in table
    assert (tmp_path / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert results_table(saved) == table


def test_extended_reproduce_trains_ele_and_etc_rows(image_zip, tmp_path):
    from keras_lie.experiments.reproduce import table_i_rows

    names = [plan.row for plan in table_i_rows(("plain", "ele", "etc"))]
    assert names == ["plain", "plain-vit-nibbles", "ele-paper-stem", "ele-no-adaptation", "ele-vit",
                     "plain-vit-bytes", "etc-paper-stem", "etc-no-adaptation", "etc-vit"]
    summary = reproduce("quick", output_dir=tmp_path, data=str(image_zip), epochs=1, batch_size=4,
                        schemes=("ele",), verbose=0)
    rows = {row["row"]: row for row in summary["rows"]}
    assert set(rows) == {"plain-vit-nibbles", "ele-paper-stem", "ele-no-adaptation", "ele-vit"}
    assert rows["ele-vit"]["backbone"] == "vit" and rows["ele-no-adaptation"]["network"] == "no adaptation"
    run = json.loads((tmp_path / "ele-no-adaptation" / "results.json").read_text())
    assert run["metadata"]["stem"] is None and run["config"]["recalibrate_batch_norm_steps"] > 0
    reference = json.loads((tmp_path / "plain-vit-nibbles" / "results.json").read_text())["metadata"]
    assert reference["augment"] is False and reference["stem_data_init"] is True
    assert json.loads((tmp_path / "ele-vit" / "results.json").read_text())["metadata"]["stem_data_init"] is True
    assert "| extended learnable (ELE) | no adaptation | pyramidnet | bytes |" in (tmp_path / "results.md").read_text()


def test_table_progress_estimates_the_time_left(caplog, monkeypatch):
    import importlib
    import logging

    module = importlib.import_module("keras_lie.experiments.reproduce")
    now = [0.0]
    monkeypatch.setattr(module.time, "perf_counter", lambda: now[0])
    progress = module.TableProgress(rows=3, epochs=4)
    progress.row = 1
    with caplog.at_level(logging.INFO, logger="keras_lie"):
        progress.on_epoch_begin(2)  # resumed at epoch 3 of row 2: rows before it and two epochs are done
        now[0] = 90.0
        progress.on_epoch_end(2, {"loss": 1.5, "accuracy": 0.25, "lr": 0.1})
    (message,) = [record.getMessage() for record in caplog.records]
    # 7 of 12 epochs done; 90 s per epoch trained here, 5 left: about 8 min.
    assert message == "row 2/3 epoch 3/4: loss 1.5000 accuracy 0.2500 | table 58% done, about 8 min left"


def test_figure_png(tmp_path, rng):
    images = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    path = figure(images, tmp_path / "fig.png", seed=1)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_accuracy_gap_on_a_tiny_zip(image_zip, tmp_path):
    from keras_lie.experiments import GAP_ROWS, accuracy_gap

    # One backbone keeps the test short; the other's runs go through the same code.
    summary = accuracy_gap("quick", output_dir=tmp_path, data=str(image_zip), seeds=(0, 1), epochs=1,
                           batch_size=4, depth=8, alpha=4, rows=GAP_ROWS[2:4], backbones=("convmixer",), verbose=0)
    assert len(summary["runs"]) == 1 * 2 * 2  # backbones x rows x seeds
    table = (tmp_path / "results.md").read_text()
    assert "| convmixer | proposed, equivariant stem (nibbles) |" in table
    assert "| 2 |" in table
    assert "after recalibrating batch normalisation" in table and "moving averages" in table
    stored = json.loads((tmp_path / "convmixer" / "proposed-paper-stem-bytes" / "seed0" / "results.json").read_text())
    assert stored["recalibration_batches"] >= 1
    assert all(0 <= r["test_accuracy_recalibrated"] <= 1 for r in summary["runs"])
    # A second call reads finished runs back instead of training them again.
    first = {(r["backbone"], r["row"], r["seed"]): r["test_accuracy"] for r in summary["runs"]}
    log = tmp_path / "convmixer" / "proposed-paper-stem-bytes" / "seed0" / "log.csv"
    stamp = log.stat().st_mtime_ns
    again = accuracy_gap("quick", output_dir=tmp_path, data=str(image_zip), seeds=(0, 1), epochs=1,
                         batch_size=4, depth=8, alpha=4, rows=GAP_ROWS[2:4], backbones=("convmixer",), verbose=0)
    assert {(r["backbone"], r["row"], r["seed"]): r["test_accuracy"] for r in again["runs"]} == first
    assert log.stat().st_mtime_ns == stamp
    # The same data file spelled another way is the same run.
    spelled = os.path.relpath(image_zip)
    assert spelled != str(image_zip)
    respelled = accuracy_gap("quick", output_dir=tmp_path, data=spelled, seeds=(0,), epochs=1, batch_size=4,
                             depth=8, alpha=4, rows=GAP_ROWS[2:3], backbones=("convmixer",), verbose=0)
    (run,) = respelled["runs"]
    assert log.stat().st_mtime_ns == stamp and run["test_accuracy"] == first["convmixer", run["row"], 0]
    # train_missing=False tabulates what has finished and trains nothing (seed 2 has not run).
    partial = accuracy_gap("quick", output_dir=tmp_path, data=str(image_zip), seeds=(0, 1, 2), epochs=1,
                           batch_size=4, depth=8, alpha=4, rows=GAP_ROWS[2:4], backbones=("convmixer",), verbose=0,
                           train_missing=False)
    assert len(partial["runs"]) == len(summary["runs"]) and not list(tmp_path.glob("*/*/seed2"))


def test_gap_table_pairs_rows_by_seed():
    from keras_lie.experiments import gap_table

    runs = [{"backbone": "b", "row": "plain (bytes)", "seed": s, "test_accuracy": a} for s, a in ((0, 0.5), (1, 0.6))]
    runs += [{"backbone": "b", "row": "x", "seed": s, "test_accuracy": a} for s, a in ((1, 0.62), (0, 0.50))]
    table = gap_table(runs)
    assert "| b | plain (bytes) | 0.5500 | 0.0707 | 2 | reference |" in table
    # Paired differences +0.0 and +2.0 points: mean +1.0, standard error 1.0.
    assert "| b | x | 0.5600 | 0.0849 | 2 | +1.0 +- 1.0 pt |" in table
    for run in runs:
        run["other"] = run["test_accuracy"] + (0.01 if run["row"] == "x" else 0.0)
    assert "| b | x | 0.5700 | 0.0849 | 2 | +2.0 +- 1.0 pt |" in gap_table(runs, metric="other")


def test_proposed_run_from_converted_initial_weights_repeats_the_plain_nibbles_run(image_zip, tmp_path):
    # End to end (pipeline, augmentation, encryption, stem, optimiser): started from the key
    # conversion of the plain run's initial weights, training on encrypted images follows the
    # plain (nibbles) run step for step.
    from keras_lie.experiments import GAP_DIAGNOSTICS, GAP_ROWS, accuracy_gap

    rows = (GAP_ROWS[1], *GAP_DIAGNOSTICS)
    summary = accuracy_gap("quick", output_dir=tmp_path, data=str(image_zip), seeds=(3,), epochs=2,
                           batch_size=4, depth=8, alpha=4, rows=rows, backbones=("convmixer",), verbose=0)
    plain, converted = (
        json.loads((tmp_path / "convmixer" / folder / "seed3" / "results.json").read_text())
        for folder in ("plain-nibbles-equivariant-stem",
                       "proposed-equivariant-stem-initial-weights-converted-from-plain-uses-the-key")
    )
    assert converted["metadata"]["scheme"] == "learnable" and converted["metadata"]["init_from_plain"]
    np.testing.assert_allclose(converted["history"]["loss"], plain["history"]["loss"], rtol=1e-4)
    assert converted["test_loss"] == pytest.approx(plain["test_loss"], rel=1e-4)
    assert [r["test_accuracy"] for r in summary["runs"]] == [plain["test_accuracy"]] * 2
    # Recalibrating batch normalisation on encrypted batches is the image of recalibrating on plain ones.
    assert converted["test_loss_recalibrated"] == pytest.approx(plain["test_loss_recalibrated"], rel=1e-4)


def test_an_interrupted_run_with_a_seed_derived_key_resumes(image_zip, tmp_path):
    from keras_lie.experiments import prepare, run_configuration

    settings, _, train_source, test_source = prepare("quick", {"data": str(image_zip), "epochs": 1, "batch_size": 4,
                                                               "depth": 8, "alpha": 4}, None)
    for _ in range(2):  # the second call re-derives the key (new salt) and must resume, not refuse
        _, results = run_configuration(settings, train_source, test_source, "learnable", tmp_path / "run", stem={},
                                       stem_input_mode="bytes", verbose=0)
    assert results["metadata"]["key_origin"] == "seed"
