"""The Dask engine on a real 2-worker LocalCluster: byte-identical scores, distributed training."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from recommender.batch import score_pairs
from recommender.distributed import ROUNDS_FROM_LOCAL_FIT, ROUNDS_FROM_PARAMS, rounds_for
from recommender.nightly import score_all_brands
from recommender.train import run_training

pytestmark = pytest.mark.slow


def some_pairs(data_dir: Path, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(9)
    brands = pd.read_parquet(data_dir / "brands.parquet")["brand_id"].to_numpy()
    infl = pd.read_parquet(data_dir / "influencers.parquet")["influencer_id"].to_numpy()
    return pd.DataFrame({"brand_id": rng.choice(brands, n), "influencer_id": rng.choice(infl, n),
                         "as_of": [None if i % 2 else "2024-05-01T00:00:00Z" for i in range(n)]})


def test_dask_scores_are_byte_identical_to_local(trained_world, saved_model_dir, dask_scheduler,
                                                 tmp_path):
    data = trained_world["data_dir"]
    some_pairs(data, 3_000).to_csv(tmp_path / "pairs.csv", index=False)
    common = {"model_uri": str(saved_model_dir), "data_dir": data, "chunk_size": 700}
    local = score_pairs(tmp_path / "pairs.csv", tmp_path / "local.parquet", **common)
    remote = score_pairs(tmp_path / "pairs.csv", tmp_path / "dask.parquet", engine="dask",
                         scheduler=dask_scheduler, **common)
    assert local.rows == remote.rows == 3_000 and remote.engine == "dask"
    assert (tmp_path / "local.parquet").read_bytes() == (tmp_path / "dask.parquet").read_bytes()


def test_dask_nightly_top_k_is_byte_identical_to_local(trained_world, saved_model_dir,
                                                        dask_scheduler, tmp_path):
    common = {"top_k": 3, "model_uri": str(saved_model_dir),
              "data_dir": trained_world["data_dir"], "chunk_size": 15_000}
    score_all_brands(tmp_path / "local.parquet", **common)
    score_all_brands(tmp_path / "dask.parquet", engine="dask", scheduler=dask_scheduler,
                     **common)
    assert (tmp_path / "local.parquet").read_bytes() == (tmp_path / "dask.parquet").read_bytes()


def test_score_command_with_two_local_workers_matches_the_local_engine(
        trained_world, saved_model_dir, tmp_path):
    from typer.testing import CliRunner

    from recommender.cli import app

    some_pairs(trained_world["data_dir"], 500).to_parquet(tmp_path / "pairs.parquet")
    common = ["score", "--pairs", str(tmp_path / "pairs.parquet"), "--model",
              str(saved_model_dir), "--data", str(trained_world["data_dir"]),
              "--chunk-size", "200"]
    runner = CliRunner()
    first = runner.invoke(app, [*common, "--out", str(tmp_path / "local.parquet")])
    second = runner.invoke(app, [*common, "--out", str(tmp_path / "dask.parquet"),
                                 "--engine", "dask", "--workers", "2"])
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert (tmp_path / "local.parquet").read_bytes() == (tmp_path / "dask.parquet").read_bytes()


def test_rounds_come_from_tuned_parameters_when_they_name_them():
    assert rounds_for(None, {"num_iterations": 37, "num_leaves": 7}, 0, 1000) == (
        37, ROUNDS_FROM_PARAMS)


def test_dask_training_registers_a_model_of_local_quality(trained_world, dask_scheduler):
    mlflow.set_tracking_uri(trained_world["tracking_uri"])
    mlflow.set_registry_uri(trained_world["tracking_uri"])
    result = run_training(trained_world["data_dir"], experiment="test-dask", seed=3,
                          model_name="test-dask-ranker", engine="dask", scheduler=dask_scheduler)
    local = trained_world["result"]
    m, ref = result.evaluation.metrics, local.evaluation.metrics
    assert result.model.rounds_source_ == ROUNDS_FROM_LOCAL_FIT
    assert result.model.best_iteration_ == local.model.best_iteration_
    assert abs(m["auc"] - ref["auc"]) < 0.02
    for name in ("random", "followers", "engagement_rate", "heuristic", "logistic_regression"):
        assert m["auc"] > m[f"baseline_{name}_auc"], name
    assert m["ece"] < 0.05
    assert "no evidence of signal" not in result.decision.reason
    client = mlflow.MlflowClient()
    version = client.get_model_version("test-dask-ranker", result.version)
    run = client.get_run(version.run_id)
    assert run.data.params["engine"] == "dask"
    assert run.data.params["rounds_from"] == ROUNDS_FROM_LOCAL_FIT
    # the registered model scores like the one trained in this process
    from recommender.batch import resolve_model

    loaded, _ = resolve_model(f"models:/test-dask-ranker/{result.version}")
    assert loaded.booster_.model_to_string() == result.model.booster_.model_to_string()
