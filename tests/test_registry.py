"""Tests for the champion gate (pure logic) and MLflow registration on a real SQLite store."""

from __future__ import annotations

import pytest
from conftest import mlflow_store as use_mlflow_store

from recommender.errors import UserError
from recommender.registry import Decision, champion_version, decide_alias, register_model

CHAMP = {"auc": 0.80, "ndcg_at_10": 0.40}


def test_no_champion_makes_a_champion():
    d = decide_alias({"auc": 0.6, "ndcg_at_10": 0.1}, None)
    assert d == Decision("champion", "no champion yet")


def test_not_worse_within_tolerance_is_champion():
    d = decide_alias({"auc": 0.796, "ndcg_at_10": 0.391}, CHAMP)
    assert d.alias == "champion"
    assert "auc 0.7960 vs champion 0.8000" in d.reason


def test_worse_auc_beyond_tolerance_is_challenger_naming_metric_and_values():
    d = decide_alias({"auc": 0.79, "ndcg_at_10": 0.45}, CHAMP)
    assert d.alias == "challenger"
    assert "auc 0.7900 vs champion 0.8000" in d.reason and "ndcg" not in d.reason


def test_worse_ndcg_beyond_tolerance_is_challenger():
    d = decide_alias({"auc": 0.9, "ndcg_at_10": 0.385}, CHAMP)
    assert d.alias == "challenger" and "ndcg_at_10 0.3850 vs champion 0.4000" in d.reason


def test_custom_tolerance_and_lower_is_better_metric():
    tol = {"log_loss": 0.01}
    assert decide_alias({"log_loss": 0.305}, {"log_loss": 0.30}, tol).alias == "champion"
    assert decide_alias({"log_loss": 0.32}, {"log_loss": 0.30}, tol).alias == "challenger"


def test_nan_new_metric_fails_the_gate():
    d = decide_alias({"auc": float("nan"), "ndcg_at_10": 0.5}, CHAMP)
    assert d.alias == "challenger" and "not measurable" in d.reason


def test_force_champion_overrides_a_worse_model():
    d = decide_alias({"auc": 0.5, "ndcg_at_10": 0.0}, CHAMP, force_champion=True)
    assert d.alias == "champion" and "force" in d.reason


def test_missing_metric_is_a_clear_error():
    with pytest.raises(UserError, match="ndcg_at_10"):
        decide_alias({"auc": 0.8}, CHAMP)
    with pytest.raises(UserError, match="champion's metrics lack"):
        decide_alias({"auc": 0.8, "ndcg_at_10": 0.4}, {"auc": 0.8})


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    """A real MLflow tracking + registry store in a temporary SQLite file (the earlier
    URIs and MLFLOW_* environment variables are restored after the test)."""
    import mlflow

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with use_mlflow_store(uri):
        experiment = mlflow.create_experiment("test",
                                              artifact_location=(tmp_path / "art").as_uri())
        yield mlflow.MlflowClient(uri, uri), experiment


def _log_tiny_model(experiment_id: str) -> str:
    import mlflow

    class Constant(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return [0.5] * len(model_input)

    with mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.pyfunc.log_model(name="model", python_model=Constant(), pip_requirements=[])
    return info.model_uri


@pytest.mark.filterwarnings("ignore:.*Add type hints:UserWarning")
def test_aliases_move_only_for_a_champion(mlflow_store):
    client, experiment = mlflow_store
    name = "ranker-test"
    assert champion_version(client, name) is None  # no registered model yet
    uri = _log_tiny_model(experiment)

    v1 = register_model(uri, name, Decision("champion", "no champion yet"), client)
    assert champion_version(client, name).version == v1.version
    assert v1.tags["gate_reason"] == "no champion yet"
    assert champion_version(client, name, alias="challenger") is None  # model exists, alias not

    v2 = register_model(uri, name, Decision("challenger", "auc worse"), client)
    assert champion_version(client, name).version == v1.version  # did not move
    assert champion_version(client, name, alias="challenger").version == v2.version

    v3 = register_model(uri, name, Decision("champion", "better"), client)
    assert champion_version(client, name).version == v3.version  # moved
    assert client.get_registered_model(name).aliases == {"champion": v3.version,
                                                          "challenger": v2.version}
    assert {v.current_stage for v in (v1, v2, v3)} <= {"None", None}  # no stages used


@pytest.mark.filterwarnings("ignore:.*Add type hints:UserWarning")
def test_a_racing_champion_move_is_refused_compare_and_swap(mlflow_store):
    import os
    import subprocess
    import sys

    import mlflow

    client, experiment = mlflow_store
    name = "ranker-race"
    uri = _log_tiny_model(experiment)
    v1 = register_model(uri, name, Decision("champion", "no champion yet"), client)
    seen_at_start = str(v1.version)  # what our run's gate compares against
    # meanwhile another process (a second `train`) moves the champion through the same store
    store = mlflow.get_registry_uri()
    racer = (f"import mlflow; c = mlflow.MlflowClient({store!r}, {store!r}); "
             f"v = mlflow.register_model({uri!r}, {name!r}); "
             f"c.set_registered_model_alias({name!r}, 'champion', v.version)")
    subprocess.run([sys.executable, "-c", racer], check=True, capture_output=True,
                   env={**os.environ, "MLFLOW_TRACKING_URI": store,
                        "MLFLOW_REGISTRY_URI": store})
    racer_version = str(champion_version(client, name).version)
    assert racer_version != seen_at_start

    ours = register_model(uri, name, Decision("champion", "better than version 1"), client,
                          expected=seen_at_start)
    assert str(champion_version(client, name).version) == racer_version  # not overwritten
    assert ours.tags["gate_alias"] == "challenger"
    assert f"moved from version {seen_at_start} to version {racer_version}" in (
        ours.tags["gate_reason"])
    assert champion_version(client, name, "challenger").version == ours.version
    # with the holder it saw, the same move goes through
    again = register_model(uri, name, Decision("champion", "better"), client,
                           expected=racer_version)
    assert str(champion_version(client, name).version) == str(again.version)


def test_a_command_run_keeps_its_artifacts_beside_the_store_not_where_it_runs(tmp_path,
                                                                              monkeypatch):
    import mlflow

    from recommender.tracking import start_run

    store, elsewhere = tmp_path / "store", tmp_path / "elsewhere"
    store.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with use_mlflow_store(f"sqlite:///{store}/mlflow.db"):
        with start_run("beside the store", "r") as run:
            mlflow.log_text("hello", "note.txt")
        artifacts = mlflow.MlflowClient().get_run(run.info.run_id).info.artifact_uri
    assert list(elsewhere.iterdir()) == []
    assert artifacts.startswith((store / "mlruns" / "beside-the-store").as_uri())
    assert (store / "mlruns" / "beside-the-store" / run.info.run_id / "artifacts"
            / "note.txt").read_text() == "hello"
