"""`recommender tune`: Optuna trials as nested MLflow runs, best parameters usable by train."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from conftest import mlflow_store
from typer.testing import CliRunner

from recommender.cli import app
from recommender.tune import run_tuning

pytestmark = pytest.mark.slow
TRIALS = 3


@pytest.fixture(scope="module")
def tuned(small_world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    store = tmp_path_factory.mktemp("tune_store")
    uri = f"sqlite:///{store}/mlflow.db"
    out = store / "best_params.json"
    with mlflow_store(uri):
        result = run_tuning(small_world_dir, trials=TRIALS, seed=3, experiment="tuning",
                            out_path=out)
    return {"uri": uri, "out": out, "result": result, "data": small_world_dir}


def test_each_trial_is_a_nested_run_of_the_search(tuned):
    client = mlflow.MlflowClient(tuned["uri"], tuned["uri"])
    parent = client.get_run(tuned["result"]["run_id"])
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == TRIALS
    losses = [c.data.metrics["valid_log_loss"] for c in children]
    assert min(losses) == pytest.approx(parent.data.metrics["best_valid_log_loss"])
    assert all(c.info.status == "FINISHED" for c in [parent, *children])


def test_best_parameters_are_written_and_are_the_best_trials(tuned):
    written = json.loads(tuned["out"].read_text())
    assert written == tuned["result"]["params"]
    assert {"learning_rate", "num_leaves", "min_data_in_leaf", "lambda_l2"} <= set(written)
    # ...and they are the parameters the trial with the lowest validation loss logged
    client = mlflow.MlflowClient(tuned["uri"], tuned["uri"])
    parent = client.get_run(tuned["result"]["run_id"])
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    best = min(children, key=lambda c: c.data.metrics["valid_log_loss"])
    assert set(best.data.params) == set(written)
    for name, value in written.items():
        if isinstance(value, int):
            assert int(best.data.params[name]) == value, name
        else:
            assert float(best.data.params[name]) == pytest.approx(value), name


def test_train_accepts_the_tuned_parameters(tuned, tmp_path):
    with mlflow_store(tuned["uri"]):
        result = CliRunner().invoke(app, [
            "train", "--data", str(tuned["data"]), "--no-register", "--experiment", "retrain",
            "--num-boost-round", "30", "--params-file", str(tuned["out"])])
        assert result.exit_code == 0, result.output
        client = mlflow.MlflowClient()
        experiment = client.get_experiment_by_name("retrain")
        (run,) = client.search_runs([experiment.experiment_id])
    best = tuned["result"]["params"]
    assert int(run.data.params["lgb_num_leaves"]) == best["num_leaves"]
    assert float(run.data.params["lgb_learning_rate"]) == pytest.approx(best["learning_rate"])
