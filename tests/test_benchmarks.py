"""The prepared GPU check and the encryption throughput benchmark run end to end on CPU at tiny sizes."""

import json
import os
import subprocess
import sys

from conftest import PROJECT_ROOT


def test_gpu_check_runs_on_cpu_with_tiny_sizes(tmp_path):
    output = tmp_path / "gpu_check.json"
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "benchmarks" / "gpu_check.py"), "--depth", "8", "--alpha", "8",
         "--batch", "8", "--steps", "1", "--images", "64", "--epoch-images", "32", "--rows", "plain,ele-vit,etc",
         "--budget-s", "300", "--output", str(output)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(output.read_text())
    assert [row["variant"] for row in report["step_time"]] == ["no stem", "stem bytes", "stem nibbles"]
    assert {row["scheme"] for row in report["encryption"]} >= {"learnable", "ele", "etc", "cat_map",
                                                                "learnable (lane kernel)", "ele (lane kernel)"}
    timed = {row["row"]: row for row in report["paper_epochs"]}
    assert set(timed) == {"plain", "ele-vit"} and all(row["hours_for_paper_schedule"] > 0 for row in timed.values())
    assert "Training step" in result.stdout and "One epoch of each Table I row" in result.stdout


def test_encryption_throughput_times_both_kernels_and_cold_caches(tmp_path):
    output = tmp_path / "throughput.json"
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "benchmarks" / "encryption_throughput.py"), "--small", "64", "--large", "1",
         "--repeats", "1", "--latency-calls", "2", "--output", str(output)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(output.read_text())["workloads"]["32x32x3"]["rows"]
    modes = {(row["scheme"], row["mode"]) for row in rows}
    assert {("learnable", "fused gather, tensor"), ("ele", "fused gather, tensor"), ("memory copy", "numpy")} <= modes
    tensor = next(row for row in rows if row["scheme"] == "learnable" and row["mode"] == "xla, tensor in/out")
    assert tensor["cold_cache_vs_memory_copy"] > 0 and tensor["vs_memory_copy"] > 0
    assert "both with cold caches" in result.stdout
    latency = json.loads(output.read_text())["latency"]
    assert {(row["input"], row["mode"]) for row in latency} == {
        (label, mode) for label in ("one 32x32x3 image", "8 images of 32x32x3", "one 480x640x3 frame")
        for mode in ("xla, tensor in/out", "keras_lie.encrypt")}
    assert all(0 < row["best_us"] <= row["median_us"] for row in latency)
    batch_sizes = json.loads(output.read_text())["batch_sizes"]
    assert [row["scheme"] for row in batch_sizes] == ["learnable", "ele"]
    assert all(row["first_call_s"] > 0 and all(size["ratio"] > 0 for size in row["sizes"]) for row in batch_sizes)
