"""Tests for the MLflow ranker: log, register, load by alias, predict, on a real SQLite store;
and the `recommend` and `refresh` commands against it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import mlflow_store
from typer.testing import CliRunner

from recommender.cli import app
from recommender.config import DEFAULT_MODEL_URI, REGISTERED_MODEL_NAME
from recommender.ranker import Ranker


@pytest.fixture
def store(registered_ranker):
    with mlflow_store(registered_ranker["tracking_uri"]):
        yield registered_ranker


def test_model_loaded_by_alias_answers_like_the_ranker_in_process(store, ranker_parts):
    import mlflow

    loaded = mlflow.pyfunc.load_model(DEFAULT_MODEL_URI)
    brief = pd.DataFrame([{"brand_id": "b02", "platform": "instagram"}])
    out = loaded.predict(brief, params={"top_n": 5})
    local = Ranker(ranker_parts["model"], ranker_parts["snapshot_dir"]).recommend(brief, top_n=5)
    assert len(out) == 5 and list(out["influencer_id"]) == list(local["influencer_id"])
    np.testing.assert_allclose(out["score"], local["score"])
    assert all(len(r) == 3 for r in out["reasons"])
    assert set(out["snapshot_as_of"]) == {ranker_parts["ds"].latest_timestamp.isoformat()}


def test_logged_model_carries_its_booster_snapshot_code_and_pinned_requirements(store):
    import mlflow
    from mlflow.models import Model

    local = Path(mlflow.artifacts.download_artifacts(DEFAULT_MODEL_URI))
    assert (local / "artifacts" / "conversion_model" / "booster.txt").is_file()
    assert (local / "artifacts" / "snapshot" / "snapshot.json").is_file()
    assert (local / "code" / "recommender" / "ranker.py").is_file()
    assert not list(local.rglob("*.pkl"))  # nothing pickled
    reqs = (local / "requirements.txt").read_text().split()
    for name in ("mlflow", "lightgbm", "pandas", "numpy", "pyarrow", "scikit-learn"):
        assert any(r.startswith(f"{name}==") for r in reqs), name
    params = {p.name: p for p in Model.load(local).signature.params}
    assert params["top_n"].default == 10 and params["top_n"].dtype.name == "long"
    assert {"as_of", "budget"} <= set(params)


def test_bad_requests_raise_invalid_parameter_errors_naming_the_field(store):
    import mlflow
    from mlflow.exceptions import MlflowException

    loaded = mlflow.pyfunc.load_model(DEFAULT_MODEL_URI)
    with pytest.raises(MlflowException) as info:
        loaded.predict(pd.DataFrame([{"brand_id": "nope"}]))
    assert info.value.error_code == "INVALID_PARAMETER_VALUE" and "'nope'" in info.value.message
    with pytest.raises(MlflowException) as info:
        loaded.predict(pd.DataFrame([{"brand_id": "b00"}]), params={"top_n": 1.5})
    assert info.value.error_code == "INVALID_PARAMETER_VALUE" and "top_n" in info.value.message
    with pytest.raises(MlflowException) as info:  # MLflow alone drops it: a silent top 10
        loaded.predict(pd.DataFrame([{"brand_id": "b00"}]), params={"topn": 3, "top_n": 2})
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "unknown parameter(s) topn; known parameters: as_of, budget, top_n" in (
        info.value.message)


def test_load_conversion_model_and_load_ranker_read_the_logged_parts(store, ranker_parts):
    from recommender.pyfunc import load_conversion_model, load_ranker

    model = load_conversion_model(DEFAULT_MODEL_URI)
    assert model.features_ == ranker_parts["model"].features_
    assert model.booster_.model_to_string() == ranker_parts["model"].booster_.model_to_string()
    ranker = load_ranker(DEFAULT_MODEL_URI)
    assert ranker.as_of == ranker_parts["ds"].latest_timestamp


def test_recommend_command_prints_a_table_csv_and_json(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["tracking_uri"])
    runner = CliRunner()
    table = runner.invoke(app, ["recommend", "--brand", "b01", "--top-n", "3"])
    assert table.exit_code == 0, table.output
    assert "P(conv)" in table.output and "snapshot" in table.output and "why" in table.output
    result = runner.invoke(app, ["recommend", "--brand", "b01", "--top-n", "3", "--format",
                                 "json"])
    rows = json.loads(result.stdout)
    assert [r["rank"] for r in rows] == [1, 2, 3] and len(rows[0]["reasons"]) == 3
    csv = runner.invoke(app, ["recommend", "--category", "food", "--target-age",
                              "18-24=0.5,25-34=0.5", "--budget", "900", "--format", "csv"])
    assert csv.exit_code == 0, csv.output
    frame = pd.read_csv(pd.io.common.StringIO(csv.stdout))
    assert frame["price_per_post"].sum() <= 900 and "unpriced_left_out" in frame


def test_recommend_like_ranks_lookalikes_and_says_when_by_similarity_alone(store,
                                                                            monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["tracking_uri"])
    runner = CliRunner()
    alone = runner.invoke(app, ["recommend", "--like", "i003", "--top-n", "3"],
                          terminal_width=250)
    assert alone.exit_code == 0, alone.output
    assert "Influencers like the seeds" in alone.output and "no brand given" in alone.output
    rows = json.loads(runner.invoke(app, ["recommend", "--brand", "b01", "--like", "i003",
                                          "--like", "i004", "--format", "json"]).stdout)
    assert len(rows) == 10 and {"i003", "i004"}.isdisjoint(r["influencer_id"] for r in rows)
    assert all(r["reasons"][0].startswith("like the 2 seeds") and r["score"] > 0
               for r in rows)


@pytest.mark.parametrize("args, words", [
    (["--like", "nobody"], ["like = 'nobody'", "not an influencer"]),
    (["--brand", "nope"], ["brand_id", "'nope'"]),
    (["--brand", "b01", "--platform", "myspace"], ["platform", "'myspace'"]),
    (["--brand", "b01", "--top-n", "0"], ["top_n = 0"]),
    (["--brand", "b01", "--min-followers", "9000", "--max-followers", "10"],
     ["min_followers = 9000"]),
    (["--category", "food", "--target-age", "young"], ["--target-age", "'young'"]),
    (["--brand", "b01", "--format", "xml"], ["--format", "'xml'"]),
    (["--brand", "b01", "--as-of", "2099-01-01"], ["as_of", "'2099-01-01'", "30 days",
                                                    "refresh"]),
])
def test_recommend_command_exits_non_zero_naming_the_bad_value(store, monkeypatch, args, words):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["tracking_uri"])
    result = CliRunner().invoke(app, ["recommend", *args])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output


def test_refresh_logs_a_new_version_with_the_same_booster_and_moves_the_alias(
        ranker_parts, tmp_path, monkeypatch):
    import mlflow

    from recommender.pyfunc import load_conversion_model, log_ranker
    from recommender.registry import Decision, register_model

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with mlflow_store(uri):
        mlflow.set_experiment("influencer-conversion")
        with mlflow.start_run():
            mlflow.log_metric("auc", 0.7)
            info = log_ranker(ranker_parts["model"], ranker_parts["ds"],
                              as_of=ranker_parts["ds"].latest_timestamp - pd.Timedelta(days=30))
        register_model(info.model_uri, REGISTERED_MODEL_NAME, Decision("champion", "test"))
        result = CliRunner().invoke(app, ["refresh", "--data", str(ranker_parts["data_dir"])])
        assert result.exit_code == 0, result.output
        client = mlflow.MlflowClient()
        champion = client.get_model_version_by_alias(REGISTERED_MODEL_NAME, "champion")
        assert str(champion.version) == "2"
        assert "refresh of version 1" in champion.tags["gate_reason"]
        model = load_conversion_model(DEFAULT_MODEL_URI)
        assert model.booster_.model_to_string() == (
            ranker_parts["model"].booster_.model_to_string())
        assert client.get_run(champion.run_id).data.metrics["auc"] == 0.7
        from recommender.pyfunc import load_ranker

        assert load_ranker(DEFAULT_MODEL_URI).as_of == ranker_parts["ds"].latest_timestamp


def test_refresh_without_a_champion_is_a_clear_error(store, monkeypatch, ranker_parts):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["tracking_uri"])
    result = CliRunner().invoke(app, ["refresh", "--data", str(ranker_parts["data_dir"]),
                                      "--model-name", "no-such-model"])
    assert result.exit_code == 2
    assert "'no-such-model' has no version with alias 'champion'" in result.output


def test_missing_numbers_are_answered_as_null():
    from recommender.pyfunc import _null_for_nan

    frame = pd.DataFrame({"score": [0.5, 0.4], "price_per_post": [10.0, np.nan],
                          "reasons": [["a"], ["b"]]})
    out = _null_for_nan(frame)
    assert out["price_per_post"].tolist() == [10.0, None]
    assert out["score"].dtype.kind == "f" and frame["price_per_post"].isna().sum() == 1
    assert json.dumps(out.to_dict(orient="records"), allow_nan=False)


def test_serve_refuses_a_model_that_does_not_exist(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["tracking_uri"])
    result = CliRunner().invoke(app, ["serve", "--model", "models:/no-such-model@champion"])
    assert result.exit_code == 2 and "no-such-model" in result.output


def _champion_of(ranker_parts, tmp_path, monkeypatch):
    """A fresh SQLite store (current directory tmp_path) holding the tiny ranker as
    influencer-ranker@champion (version 1)."""
    import mlflow

    from recommender.pyfunc import log_ranker
    from recommender.registry import Decision, register_model

    monkeypatch.chdir(tmp_path)
    mlflow.set_experiment("influencer-conversion")
    with mlflow.start_run():
        info = log_ranker(ranker_parts["model"], ranker_parts["ds"])
    register_model(info.model_uri, REGISTERED_MODEL_NAME, Decision("champion", "test"))
    return mlflow.MlflowClient()


def _store_and_copy(ranker_parts, tmp_path, monkeypatch, name: str) -> tuple[str, Path]:
    """A SQLite store URI (set as MLFLOW_TRACKING_URI) and a copy of the ranker's data."""
    import shutil

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    shutil.copytree(ranker_parts["data_dir"], tmp_path / name)
    return uri, tmp_path / name


def test_refresh_onto_data_where_the_booster_shows_no_signal_keeps_the_champion(
        ranker_parts, tmp_path, monkeypatch):
    uri, broken = _store_and_copy(ranker_parts, tmp_path, monkeypatch, "shuffled")
    (broken / "truth.parquet").unlink(missing_ok=True)
    collabs = pd.read_parquet(broken / "collaborations.parquet")
    collabs["conversions"] = np.random.default_rng(0).permutation(collabs["conversions"])
    collabs.to_parquet(broken / "collaborations.parquet", index=False)
    with mlflow_store(uri):
        client = _champion_of(ranker_parts, tmp_path, monkeypatch)
        result = CliRunner().invoke(app, ["refresh", "--data", str(broken)])
        assert result.exit_code == 0, result.output
        champion = client.get_model_version_by_alias(REGISTERED_MODEL_NAME, "champion")
        assert str(champion.version) == "1"
        refreshed = client.get_model_version_by_alias(REGISTERED_MODEL_NAME, "challenger")
        assert "not made champion" in refreshed.tags["gate_reason"]
        run = client.get_run(refreshed.run_id)
        assert "refresh_first_stage_recall_at_10" in run.data.metrics
        assert "refresh_auc" in run.data.metrics


def test_refresh_without_outcomes_to_re_evaluate_on_is_refused_unless_allowed(
        ranker_parts, tmp_path, monkeypatch):
    uri, bare = _store_and_copy(ranker_parts, tmp_path, monkeypatch, "bare")
    (bare / "collaborations.parquet").unlink()
    with mlflow_store(uri):
        client = _champion_of(ranker_parts, tmp_path, monkeypatch)
        refused = CliRunner().invoke(app, ["refresh", "--data", str(bare)])
        assert refused.exit_code == 2 and "--allow-unevaluated" in refused.output
        assert len(client.search_model_versions(f"name = '{REGISTERED_MODEL_NAME}'")) == 1
        allowed = CliRunner().invoke(app, ["refresh", "--data", str(bare),
                                           "--allow-unevaluated"])
        assert allowed.exit_code == 0, allowed.output
        assert "version 2 as champion" in " ".join(allowed.output.split())


def test_recommend_with_one_chosen_says_one_influencer(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["tracking_uri"])
    result = CliRunner().invoke(app, ["recommend", "--brand", "b01", "--top-n", "1",
                                      "--budget", "100000"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "1 influencer for $" in result.output and "1 influencers" not in result.output
