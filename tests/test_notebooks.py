"""The notebooks run top to bottom on a small world, so they never rot."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_notebook(name: str, cwd: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment of this process
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def outputs_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            parts.append(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_explore_notebook_shows_calibration_tables(small_world_dir, tmp_path):
    nb = run_notebook("01-explore-world.ipynb", tmp_path, {"DATA_DIR": str(small_world_dir)})
    text = outputs_text(nb)
    assert "target %" in text and "1k-10k" in text and "fashion" in text
    assert "sponsored median %" in text


@pytest.mark.slow
def test_evaluate_notebook_reads_the_run_back_from_mlflow(trained_world, tmp_path):
    env = {"MLFLOW_TRACKING_URI": trained_world["tracking_uri"],
           "EXPERIMENT": trained_world["experiment"]}
    nb = run_notebook("02-evaluate-model.ipynb", tmp_path, env)
    text = outputs_text(nb)
    assert trained_world["run_id"] in text
    assert "logistic_regression" in text and "oracle" in text
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 3
