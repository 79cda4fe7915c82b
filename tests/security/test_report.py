import json

import numpy as np

from keras_lie import cli
from keras_lie.keys import generate_key
from keras_lie.security.key_leakage import kernel_leakage
from keras_lie.security.report import security_report
from keras_lie.training import train_small_classifier

from conftest import write_image_tree


def test_report_on_tiny_data_with_leakage(tmp_path, rng):
    images = rng.integers(0, 256, (12, 16, 16, 3), dtype=np.uint8)
    labels = np.arange(12) % 3
    keys = [generate_key(s, block_size=4 if s in ("learnable", "block_shuffle") else None, seed=2)
            for s in ("plain", "cat_map", "block_shuffle", "learnable")]
    models = [train_small_classifier(images, labels, keys[-1], mode, epochs=1) for mode in ("bytes", "nibbles")]
    summary = security_report(images, tmp_path, keys=keys, leakage_models=models, command="pytest")
    report = (tmp_path / "report.md").read_text()
    for heading in ("Visual metrics", "Known-plaintext", "Ciphertext-only", "Nibble structure", "Key space"):
        assert heading in report
    saved = json.loads((tmp_path / "report.json").read_text())
    learnable = saved["results"][-1]
    assert learnable["known_plaintext"]["recovered_key_decrypts_all_images"] is True
    assert set(learnable["model_leakage"]) == {"bytes", "nibbles"}
    assert all((tmp_path / r["picture"]).exists() for r in summary["results"])
    leak = kernel_leakage(models[1], keys[-1])
    assert 0 <= leak["upper_nibble_auc"] <= 1


def test_security_command(tmp_path, rng):
    tree = write_image_tree(tmp_path / "tree", rng, per_class=2)
    assert cli.main(["security", "--data", str(tree), "--images", "6", "--block-sizes", "4",
                     "--schemes", "learnable,cat_map", "--seed", "1", "-o", str(tmp_path / "rep")]) == 0
    assert "grid_learnable_m4.png" in (tmp_path / "rep" / "report.md").read_text()
