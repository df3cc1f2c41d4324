"""Feedback as a second label: simulated planners, the position-corrected preference model
against the hidden taste, the gated blend, and `train --feedback` end to end."""

from __future__ import annotations

import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest

from recommender.errors import UserError
from recommender.preference import (
    SHARES,
    PreferenceModel,
    fit_feedback,
    load_events,
    position_columns,
    stratified_auc,
)
from recommender.world.planners import (
    FEEDBACK_FILE,
    SHOWN,
    TRUTH_FILE,
    accept_probability,
    evaluate_against_truth,
    write_planner_feedback,
)

BRIEFS = 300


@pytest.fixture(scope="module")
def planner_world(small_world_dir, tmp_path_factory):
    """A copy of the small world with BRIEFS briefs of simulated planner feedback."""
    folder = tmp_path_factory.mktemp("planners") / "world"
    shutil.copytree(small_world_dir, folder)
    write_planner_feedback(folder, BRIEFS, seed=1)
    return folder


@pytest.fixture(scope="module")
def fitted(planner_world, trained_world):
    from recommender.validate import load_dataset

    ds = load_dataset(planner_world)
    events = load_events(planner_world / FEEDBACK_FILE)
    model = trained_world["result"].model
    return {"ds": ds, "events": events, "conversion": model,
            "result": fit_feedback(ds, events, model)}


def test_simulated_planners_accept_less_further_down_the_list(planner_world):
    events = pd.read_parquet(planner_world / FEEDBACK_FILE)
    truth = pd.read_parquet(planner_world / TRUTH_FILE)
    assert len(events) == BRIEFS * SHOWN and set(events["rank"]) == set(range(1, SHOWN + 1))
    rate = (events["decision"] == "accept").groupby(events["rank"]).mean()
    assert rate.loc[1] > 2 * rate.loc[SHOWN]
    shown = truth.dropna(subset=["p_accept"])
    assert np.allclose(shown["p_accept"],
                       accept_probability(shown["taste"].to_numpy(),
                                          shown["logged_rank"].to_numpy()))
    # the logging ranker puts large accounts first: rank goes with size, not with taste
    inf = pd.read_parquet(planner_world / "influencers.parquet").set_index("influencer_id")
    size = np.log(inf.loc[events["influencer_id"], "followers"].to_numpy())
    assert np.corrcoef(size, events["rank"])[0, 1] < -0.3


def test_position_corrected_model_recovers_the_hidden_taste_better(fitted, planner_world):
    """The stated metric: Spearman correlation of the model's score (position held constant)
    with the true taste over the held-out briefs' candidate pools."""
    events = fitted["events"]
    after = events["at"].iloc[int(len(events) * (SHARES[0] + SHARES[1]))]
    truth = pd.read_parquet(planner_world / TRUTH_FILE)
    got = evaluate_against_truth(fitted["ds"], truth, fitted["result"], fitted["conversion"],
                                 after)
    assert got["taste_spearman_corrected"] > got["taste_spearman_uncorrected"] + 0.1
    assert got["taste_spearman_corrected"] > 0.8
    # and the blend, chosen without the truth, raises the true top-10 acceptance rate
    assert fitted["result"].blended
    assert got[f"top{SHOWN}_acceptance_blend"] > got[f"top{SHOWN}_acceptance_conversion"] + 0.02


def test_blend_is_refused_when_feedback_carries_no_taste(fitted):
    events = fitted["events"]
    rng = np.random.default_rng(0)
    noise = events.assign(decision=np.where(rng.random(len(events)) < 0.2, "accept", "reject"))
    result = fit_feedback(fitted["ds"], noise, fitted["conversion"])
    m = result.metrics
    assert not result.blended or m["feedback_auc_blend_test"] > m["feedback_auc_conversion_test"]
    assert result.model.blend_weight == (m["feedback_blend_weight_chosen"] if result.blended
                                         else 0.0)


def test_position_columns_and_stratified_auc():
    cols = position_columns(pd.Series([1, 3, 25, None]))
    assert cols.shape == (4, 11) and cols.sum(axis=1).tolist() == [1, 1, 1, 1]
    assert cols[2, 9] == 1 and cols[3, 10] == 1
    # within each rank the score orders accept above reject: AUC 1, whatever the ranks' rates
    score = np.array([2.0, 1.0, -5.0, -6.0])
    assert stratified_auc(score, np.array([1, 0, 1, 0]), [1, 1, 2, 2]) == 1.0


def test_preference_model_round_trips_as_json(fitted, tmp_path):
    model = fitted["result"].model
    back = PreferenceModel.load(model.save(tmp_path).parent)
    X = pd.DataFrame({"real_follower_share": [0.9, 0.5], "niche_match": [1.0, 0.0]})
    assert np.allclose(back.score(X), model.score(X)) and back == model


@pytest.mark.parametrize("frame, words", [
    (pd.DataFrame({"at": ["2026-01-01"], "brand_id": ["b01"], "influencer_id": ["i1"]}),
     ["decision", "rank", "missing"]),
    (pd.DataFrame({"at": ["2026-01-01"], "brand_id": ["b01"], "influencer_id": ["i1"],
                   "decision": ["maybe"], "rank": [1]}), ["'decision'", "'maybe'"]),
    (pd.DataFrame({"at": ["someday"], "brand_id": ["b01"], "influencer_id": ["i1"],
                   "decision": ["accept"], "rank": [1]}), ["'at'", "1 rows"]),
])
def test_bad_feedback_file_names_the_column(tmp_path, frame, words):
    path = tmp_path / "fb.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(UserError) as info:
        load_events(path)
    for word in words:
        assert word in str(info.value)


def test_events_naming_ids_not_in_the_data_are_refused(fitted):
    bad = fitted["events"].assign(influencer_id="i_nobody")
    with pytest.raises(UserError, match="influencer_id.*'i_nobody'"):
        fit_feedback(fitted["ds"], bad, fitted["conversion"])


def test_train_with_feedback_logs_metrics_and_serves_the_blend(planner_world, tmp_path):
    from conftest import mlflow_store

    from recommender.pyfunc import load_ranker
    from recommender.train import run_training

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with mlflow_store(uri):
        result = run_training(planner_world, experiment="fb", model_name="fb-ranker", seed=3,
                              feedback=str(planner_world / FEEDBACK_FILE),
                              num_boost_round=60)
        run = mlflow.MlflowClient(uri).get_run(result.run_id)
        for key in ("feedback_auc_pref_corrected_test", "feedback_auc_blend_test",
                    "feedback_blended"):
            assert key in run.data.metrics, sorted(run.data.metrics)
        assert len(run.data.metrics) > 10  # beside the conversion model's own
        assert run.data.metrics["feedback_blended"] == 1.0
        ranker = load_ranker(f"models:/fb-ranker/{result.version}")
        assert ranker.preference is not None and ranker.preference.blend_weight > 0
        out = ranker.recommend(pd.DataFrame([{"brand_id": "b01"}]), top_n=10)
        X, _, _, _ = ranker.score_rows(ranker.ids.get_indexer(out["influencer_id"]),
                                       ranker.brand_side(ranker_brief(ranker, "b01")),
                                       ranker.as_of)
        key = ranker.preference.blend(out["score"].to_numpy(), pd.DataFrame(X))
        assert (np.diff(key) <= 1e-9).all()


def ranker_brief(ranker, brand_id):
    from recommender.briefs import parse_briefs

    return parse_briefs(pd.DataFrame([{"brand_id": brand_id}]), ranker.brand_index,
                        ranker.niches)[0]
