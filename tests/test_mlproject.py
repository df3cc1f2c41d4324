"""The MLproject runs: `mlflow run . -e train` trains and registers from the project folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mlflow_run_train_entry_point_logs_into_its_run_and_registers(small_world_dir, tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri,
           "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    # earlier tests' set_experiment / set_registry_uri leave MLFLOW_* in this process's env
    env.pop("MLFLOW_EXPERIMENT_ID", None)
    done = subprocess.run(
        [str(Path(bin_dir) / "mlflow"), "run", str(ROOT), "-e", "train", "--env-manager", "local",
         "--experiment-name", "mlproject-test", "-P", f"data={small_world_dir}",
         "-P", "model_name=mlproject-ranker"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    client = mlflow.MlflowClient(uri, uri)
    (run,) = client.search_runs([client.get_experiment_by_name("mlproject-test").experiment_id])
    assert run.data.metrics["auc"] > 0.55 and "data_digest" in run.data.params
    version = client.get_model_version_by_alias("mlproject-ranker", "champion")
    assert version.run_id == run.info.run_id
