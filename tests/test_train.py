"""The training run: honest split, model against baselines, MLflow records, the champion gate."""

from __future__ import annotations

import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest

from recommender.errors import UserError
from recommender.features import FEATURE_COLUMNS
from recommender.train import prepare, run_training

pytestmark = pytest.mark.slow


def use_store(world: dict) -> mlflow.MlflowClient:
    mlflow.set_tracking_uri(world["tracking_uri"])
    mlflow.set_registry_uri(world["tracking_uri"])
    return mlflow.MlflowClient()


def test_split_is_by_time_and_windows_do_not_overlap(small_world_dir):
    data = prepare(small_world_dir)
    assert data.train["as_of"].max() < data.valid["as_of"].min()
    assert data.valid["as_of"].max() < data.test["as_of"].min()
    span = data.rows["as_of"].max() - data.rows["as_of"].min()
    test_span = data.test["as_of"].max() - data.split.valid_end
    assert 0.15 < test_span / span <= 0.21  # about the last 20% of time


def test_run_logs_metrics_artifacts_dataset_and_registers_champion(trained_world):
    client = use_store(trained_world)
    run = client.get_run(trained_world["run_id"])
    for key in ("auc", "ndcg_at_10", "precision_at_5", "recall_at_10", "ece", "log_loss",
                "within_niche_auc", "baseline_logistic_regression_auc", "oracle_auc",
                "oracle_lift_share", "cold_start_rows"):
        assert key in run.data.metrics, key
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"metrics_table.csv", "features.json", "feature_importance.csv"} <= artifacts
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {"plots/calibration.png", "plots/gains.png", "plots/feature_importance.png"}
    assert run.inputs.dataset_inputs, "the training data is logged as an MLflow dataset"
    version = client.get_model_version_by_alias(trained_world["model_name"], "champion")
    assert version.tags["gate_alias"] == "champion"
    assert version.run_id == run.info.run_id


def test_model_beats_every_baseline_and_is_calibrated(trained_world):
    m = trained_world["result"].evaluation.metrics
    for name in ("random", "followers", "engagement_rate", "heuristic", "logistic_regression"):
        assert m["auc"] > m[f"baseline_{name}_auc"], name
    assert m["ece"] < 0.05
    assert 0.0 < m["oracle_lift_share"] <= 1.05


def test_model_keeps_the_domain_directions(trained_world):
    from recommender.features import MONOTONE_INCREASING

    model = trained_world["result"].model
    assert model.params_["monotone_constraints"] == [
        int(f in MONOTONE_INCREASING) for f in model.features_]
    test = prepare(trained_world["data_dir"]).test.head(30)
    for feature in ("audience_match_mean", "real_follower_share"):
        low, high = (model.predict_raw(test.assign(**{feature: v})) for v in (0.2, 0.9))
        assert np.all(high >= low - 1e-12), feature


def test_run_scores_the_catalogue_truth_of_a_generated_world(trained_world):
    client = use_store(trained_world)
    logged = client.get_run(trained_world["run_id"]).data.metrics
    for k in (10, 50):
        model, random = logged[f"catalogue_ndcg_at_{k}"], logged[
            f"catalogue_baseline_random_ndcg_at_{k}"]
        assert 0.0 < random < model <= 1.0
        assert f"catalogue_baseline_heuristic_ndcg_at_{k}" in logged
        regret = logged[f"catalogue_regret_at_{k}"]
        assert 0.0 <= regret < logged[f"catalogue_baseline_random_regret_at_{k}"]
    # the same figure from the catalogue's own pieces: every micro-influencer, gains p_true
    from recommender.catalogue import catalogue_features, catalogue_ndcg, read_catalogue_truth

    data = prepare(trained_world["data_dir"])
    truth = read_catalogue_truth(trained_world["data_dir"])
    score = trained_world["result"].model.predict_proba(catalogue_features(data.ds, truth))
    assert abs(catalogue_ndcg(truth, score, 10) - logged["catalogue_ndcg_at_10"]) < 0.02


def test_second_train_on_same_data_gives_identical_metrics(trained_world):
    use_store(trained_world)
    again = run_training(trained_world["data_dir"], experiment="test-train", seed=3,
                         register=False)
    first = trained_world["result"]
    assert again.evaluation.metrics == first.evaluation.metrics
    data = prepare(trained_world["data_dir"])
    X = data.test[FEATURE_COLUMNS]
    np.testing.assert_array_equal(again.model.predict_proba(X), first.model.predict_proba(X))


def test_shuffled_labels_do_not_take_the_champion_alias(trained_world, tmp_path):
    client = use_store(trained_world)
    shuffled = tmp_path / "shuffled"
    shutil.copytree(trained_world["data_dir"], shuffled)
    (shuffled / "truth.parquet").unlink()
    collabs = pd.read_parquet(shuffled / "collaborations.parquet")
    rng = np.random.default_rng(0)
    collabs["conversions"] = rng.permutation(collabs["conversions"].to_numpy())
    collabs.to_parquet(shuffled / "collaborations.parquet", index=False)
    name = trained_world["model_name"]
    before = client.get_model_version_by_alias(name, "champion").version
    result = run_training(shuffled, experiment="test-train", model_name=name, seed=3)
    assert result.decision.alias == "challenger", result.decision.reason
    assert client.get_model_version_by_alias(name, "champion").version == before
    assert client.get_model_version_by_alias(name, "challenger").version == result.version


def test_data_without_collaborations_is_refused_clearly(small_world_dir, tmp_path):
    folder = tmp_path / "nolabels"
    shutil.copytree(small_world_dir, folder)
    (folder / "collaborations.parquet").unlink()
    with pytest.raises(UserError, match="no collaborations"):
        prepare(folder)


def test_an_early_outlier_breaks_the_time_split_clearly_and_a_row_split_copes(
        small_world_dir, tmp_path):
    folder = tmp_path / "outlier"
    shutil.copytree(small_world_dir, folder)
    collabs = pd.read_parquet(folder / "collaborations.parquet")
    collabs.loc[0, "started_at"] = pd.Timestamp("1970-01-01", tz="UTC")
    collabs.to_parquet(folder / "collaborations.parquet")
    with pytest.raises(UserError, match=r"'started_at'.*--split-by rows"):
        prepare(folder)
    data = prepare(folder, split_by="rows")
    # the cut is at row quantiles (the outcome lag then leaves out the unsettled tail rows)
    shares = np.array([m.sum() for m in data.split.masks(data.rows["as_of"])]) / len(data.rows)
    np.testing.assert_allclose(shares, [0.65, 0.15, 0.20], atol=0.01)
    assert data.train["as_of"].max() < data.valid["as_of"].min()
    assert data.valid["as_of"].max() < data.test["as_of"].min()


def test_too_few_collaborations_get_no_split_by_rows_hint_that_cannot_help(small_world_dir,
                                                                            tmp_path):
    folder = tmp_path / "few"
    shutil.copytree(small_world_dir, folder)
    collabs = pd.read_parquet(folder / "collaborations.parquet")
    collabs.sort_values("started_at").iloc[-12:].to_parquet(folder / "collaborations.parquet")
    with pytest.raises(UserError) as info:
        prepare(folder)
    assert "at least" in str(info.value) and "--split-by rows" not in str(info.value)


def test_a_feature_schema_change_is_never_promoted_automatically(trained_world):
    from recommender.features import CATEGORICAL_FEATURES, LABEL
    from recommender.model import ConversionModel
    from recommender.pyfunc import log_ranker
    from recommender.registry import Decision, register_model
    from recommender.train import gate

    client = use_store(trained_world)
    data = prepare(trained_world["data_dir"])
    fewer = FEATURE_COLUMNS[:-1]  # an older champion, without pair_conversion_rate
    old = ConversionModel(num_boost_round=20, calibration="platt",
                          categorical_features=CATEGORICAL_FEATURES).fit(
        data.train[fewer], data.train[LABEL], data.valid[fewer], data.valid[LABEL])
    mlflow.set_experiment("test-train")
    with mlflow.start_run():
        info = log_ranker(old, data.ds)
    register_model(info.model_uri, "schema-test", Decision("champion", "test"), client)
    new = trained_world["result"]
    decision = gate("schema-test", new.model, new.evaluation, data.test)
    assert decision.alias == "challenger"
    assert "feature schema changed (added ['pair_conversion_rate'])" in decision.reason
    assert "never promoted automatically" in decision.reason


def test_runs_and_versions_record_code_data_and_features_and_models_lists_them(
        trained_world, monkeypatch):
    import subprocess
    from pathlib import Path

    from typer.testing import CliRunner

    from recommender.cli import app

    client = use_store(trained_world)
    run = client.get_run(trained_world["run_id"])
    version = client.get_model_version(trained_world["model_name"],
                                       trained_world["result"].version)
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).parent, check=True).stdout.strip()
    model = trained_world["result"].model
    for tags in (run.data.tags, version.tags):
        assert tags["git_commit"] == head
        assert tags["git_dirty"] in ("true", "false")
        assert tags["package_version"] == "0.1.0"
        assert tags["data_digest"] == run.data.params["data_digest"]
        assert tags["features"].split(",") == model.features_
    from recommender.provenance import list_versions

    listing = list_versions(trained_world["model_name"]).set_index("version")
    row = listing.loc[int(trained_world["result"].version)]
    assert "champion" in row["aliases"].split(",")
    assert row["auc"] == run.data.metrics["auc"] and row["git_commit"].startswith(head[:10])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_world["tracking_uri"])
    listed = CliRunner().invoke(app, ["models", "--model-name", trained_world["model_name"]],
                                env={"COLUMNS": "300"})
    assert listed.exit_code == 0, listed.output
    line = next(x for x in listed.output.splitlines() if "champion" in x)
    assert f"{run.data.metrics['auc']:.3f}" in line and head[:10] in line
