import json

import numpy as np

from keras_lie import cli
from keras_lie.keys import generate_key
from keras_lie.security.key_leakage import kernel_leakage
from keras_lie.security.report import security_report
from keras_lie.training import train_small_classifier

from conftest import write_image_tree
from synthetic_images import structured_images


def test_report_on_tiny_data_with_leakage(tmp_path, rng):
    images = rng.integers(0, 256, (12, 16, 16, 3), dtype=np.uint8)
    labels = np.arange(12) % 3
    keys = [generate_key(s, block_size=4 if s in ("learnable", "block_shuffle") else None, seed=2)
            for s in ("plain", "cat_map", "block_shuffle", "learnable")]
    models = [train_small_classifier(images, labels, keys[-1], mode, epochs=1) for mode in ("bytes", "nibbles")]
    summary = security_report(images, tmp_path, keys=keys, leakage_models=models, command="pytest",
                              attack_counts=(3, 12), attack_groups=1)
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
    assert cli.main(["security", "--data", str(tree), "--images", "4", "--block-sizes", "4",
                     "--schemes", "learnable,cat_map", "--seed", "1", "-o", str(tmp_path / "rep")]) == 0
    assert "grid_learnable_m4.png" in (tmp_path / "rep" / "report.md").read_text()


def test_security_of_an_encrypted_folder(tmp_path, rng, capsys):
    tree = write_image_tree(tmp_path / "tree", rng, per_class=2)
    key, other = tmp_path / "k.json", tmp_path / "other.json"
    for path in (key, other):
        assert cli.main(["keygen", "--scheme", "learnable", "--block-size", "4", "-o", str(path)]) == 0
    encrypted = tmp_path / "enc"
    assert cli.main(["encrypt", "--key", str(key), str(tree), str(encrypted), "--quiet"]) == 0
    out = tmp_path / "exposure"
    assert cli.main(["security", "--encrypted", str(encrypted), "--key", str(key), "--images", "6", "-o", str(out)]) == 0
    summary = json.loads((out / "exposure.json").read_text())
    assert summary["scheme"] == "learnable" and summary["images"] == 6
    assert [row["attack_images"] for row in summary["ciphertext_only"]] == [1, 2, 3, 5, 6]
    assert all(0 <= row["ssim_reconstruction"] <= 1 for row in summary["ciphertext_only"])
    assert (out / "exposure.png").stat().st_size > 0 and "exposure.png" in (out / "exposure.md").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["exposure.json", "exposure.md", "exposure.png"]  # no plain image
    assert "rebuilds them at grey SSIM" in capsys.readouterr().out
    # The key only scores, but it must be the folder's: another key is refused with both fingerprints.
    assert cli.main(["security", "--encrypted", str(encrypted), "--key", str(other), "-o", str(tmp_path / "x")]) == 1
    assert "give the key the folder was made with" in capsys.readouterr().err
    assert cli.main(["security", "--encrypted", str(tree), "--key", str(key), "-o", str(tmp_path / "y")]) == 1
    assert "no keras-lie manifest" in capsys.readouterr().err


def test_the_report_has_ele_and_etc_rows(tmp_path):
    x = structured_images(24, size=16)  # small images: the report's every part, in a fraction of the time
    keys = [generate_key(s, block_size=4, seed=1, image_size=(16, 16)) for s in ("ele", "etc")]
    summary = security_report(x, tmp_path, keys=keys, command="pytest", attack_counts=(3, 20), attack_groups=1)
    ele, etc = summary["results"]
    assert ele["chosen_plaintext"]["recovered_the_key"] and etc["chosen_plaintext"]["recovered_the_key"]
    # At 16 x 16, ELE's probes need one image fewer than at 32 x 32 (4); EtC's two do not depend on the size.
    assert ele["chosen_plaintext"]["probe_images"] == 3 and etc["chosen_plaintext"]["probe_images"] == 2
    assert ele["key_space"]["effective_bits"] > 16 * 400
    # The ciphertext-only curve covers every count the images allow, each one scored.
    assert [row["attack_images"] for row in etc["ciphertext_only"]] == [3, 20]
    assert all(0 <= row["ssim_reconstruction"] <= 1 for row in ele["ciphertext_only"] + etc["ciphertext_only"])
    report = (tmp_path / "report.md").read_text()
    assert "| ele | 4 |" in report and "Known plaintext against the position-keyed schemes" in report
    assert (tmp_path / "grid_etc_m4.png").is_file()
