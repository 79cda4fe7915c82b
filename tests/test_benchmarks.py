"""The prepared GPU check runs end to end on CPU at tiny sizes (it is run for real when a GPU is lent)."""

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
    assert {row["scheme"] for row in report["encryption"]} >= {"learnable", "ele", "etc", "cat_map"}
    timed = {row["row"]: row for row in report["paper_epochs"]}
    assert set(timed) == {"plain", "ele-vit"} and all(row["hours_for_paper_schedule"] > 0 for row in timed.values())
    assert "Training step" in result.stdout and "One epoch of each Table I row" in result.stdout
