"""The tutorial notebook runs top to bottom (on a tiny zip made here)."""

from pathlib import Path

import pytest

from conftest import PROJECT_ROOT, write_image_tree, zip_tree

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def test_tutorial_notebook_runs(tmp_path, rng, monkeypatch):
    data = zip_tree(write_image_tree(tmp_path / "tree", rng, per_class=8, size=32), tmp_path / "tiny.zip")
    monkeypatch.setenv("KERAS_LIE_NOTEBOOK_DATA", str(data))
    monkeypatch.setenv("KERAS_LIE_NOTEBOOK_TRAIN_SIZE", "24")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    path = PROJECT_ROOT / "notebooks" / "tutorial.ipynb"
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3",
        resources={"metadata": {"path": str(Path(path).parent)}},
    )
    client.execute()
    outputs = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "test accuracy on encrypted images" in outputs
    assert "max difference" in outputs
