"""Tests for the LightGBM conversion model: learning, calibration, categories, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender import metrics
from recommender.errors import UserError
from recommender.model import (
    PROBA_FLOOR,
    ConversionModel,
    apply_calibration,
    choose_calibration,
    fit_calibration,
)

PLATFORM_EFFECT = {"instagram": 0.8, "tiktok": 0.0, "youtube": -0.8}


def _world(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    platform = rng.choice(list(PLATFORM_EFFECT), n)
    x1 = rng.normal(size=n)
    noise = rng.normal(size=n)
    noise[rng.random(n) < 0.2] = np.nan
    logit = -1.0 + 1.5 * x1 + np.vectorize(PLATFORM_EFFECT.get)(platform)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame(
        {
            "x1": x1,
            "noise": noise,
            "platform": pd.array(platform, dtype="string"),
            "niche": pd.array(rng.choice(["food", "pets"], n), dtype="string"),
        }
    )
    return X, y


@pytest.fixture(scope="module")
def data():
    return {"train": _world(800, 1), "valid": _world(400, 2), "test": _world(400, 3)}


def _fit(data, **kw) -> ConversionModel:
    params = {"learning_rate": 0.1, "num_leaves": 7}
    kw = {"num_boost_round": 150, "early_stopping_rounds": 15, "num_threads": 1, **kw}
    return ConversionModel(params=params, **kw).fit(*data["train"], *data["valid"])


@pytest.fixture(scope="module")
def model(data) -> ConversionModel:
    return _fit(data)


def test_init_does_no_work_and_fit_sets_underscore_attributes(data, model):
    m = ConversionModel(seed=3)
    assert not any(k.endswith("_") for k in vars(m))
    assert m.seed == 3
    assert {"booster_", "features_", "categories_", "calibration_",
            "best_iteration_"} <= set(vars(model))


def test_learns_the_signal(model, data):
    X, y = data["test"]
    assert metrics.auc(y, model.predict_proba(X)) > 0.75
    assert model.categorical_features_ == ["platform", "niche"]
    assert model.categories_["platform"] == ["instagram", "tiktok", "youtube"]


def test_early_stopping_keeps_only_the_best_trees(model):
    assert 1 <= model.best_iteration_ < 150
    assert model.booster_.num_trees() == model.best_iteration_


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_matches_validation_base_rate(data, method):
    m = _fit(data, calibration=method)
    X, y = data["valid"]
    p = m.predict_proba(X)
    assert m.calibration_["method"] == method
    assert p.mean() == pytest.approx(y.mean(), abs=5e-3)
    assert p.min() >= PROBA_FLOOR and p.max() <= 1 - PROBA_FLOOR


def test_calibrated_test_probabilities_are_close(model, data):
    X, y = data["test"]
    assert metrics.expected_calibration_error(y, model.predict_proba(X)) < 0.1


def test_same_seed_same_model(data, model):
    X = data["test"][0]
    np.testing.assert_array_equal(_fit(data).predict_proba(X), model.predict_proba(X))


def test_save_load_predicts_identically_without_pickle(model, data, tmp_path):
    X = data["test"][0]
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["booster.txt", "model.json"]
    loaded = ConversionModel.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        loaded.contributions(X).to_numpy(), model.contributions(X).to_numpy(), rtol=0, atol=1e-12
    )
    assert loaded.categories_ == model.categories_
    assert loaded.calibration_ == model.calibration_


def test_unseen_category_is_treated_as_missing(model, data):
    X = data["test"][0].head(20)
    unseen = X.assign(platform=pd.array(["mastodon"] * 20, dtype="string"))
    missing = X.assign(platform=pd.array([pd.NA] * 20, dtype="string"))
    np.testing.assert_array_equal(model.predict_proba(unseen), model.predict_proba(missing))
    assert not np.array_equal(model.predict_proba(unseen), model.predict_proba(X))


def test_categories_map_by_value_not_by_pandas_codes(model, data):
    X = data["test"][0].head(50)
    reordered = X.assign(
        platform=pd.Categorical(X["platform"], categories=["youtube", "tiktok", "instagram"]),
        niche=X["niche"].astype(object),
    )
    np.testing.assert_array_equal(model.predict_proba(reordered), model.predict_proba(X))


def test_contributions_sum_to_raw_log_odds(model, data):
    X = data["test"][0].head(30)
    contrib = model.contributions(X)
    assert list(contrib.columns) == ["x1", "noise", "platform", "niche", "bias"]
    raw = model.predict_raw(X)
    np.testing.assert_allclose(contrib.sum(axis=1), np.log(raw / (1 - raw)), atol=1e-9)


def test_feature_importance_ranks_signal_above_noise(model):
    imp = model.feature_importance()
    assert imp["feature"].iloc[0] == "x1"
    assert imp["gain"].is_monotonic_decreasing
    assert imp["gain_share"].sum() == pytest.approx(1.0)


def test_thread_count_does_not_change_predictions(model, data):
    X = data["test"][0]
    np.testing.assert_array_equal(
        model.predict_proba(X, num_threads=2), model.predict_proba(X, num_threads=1)
    )


def test_missing_feature_column_is_named(model, data):
    with pytest.raises(UserError, match="noise"):
        model.predict_proba(data["test"][0].drop(columns="noise"))


def test_single_class_labels_are_a_clear_error(data):
    X, y = data["train"]
    with pytest.raises(UserError, match="validation labels"):
        ConversionModel().fit(X, y, X, np.zeros(len(X)))


def test_non_numeric_value_in_numeric_feature_is_named(model, data):
    X = data["test"][0].head(3).astype({"x1": object})
    X.loc[X.index[0], "x1"] = "lots"
    with pytest.raises(UserError, match="'x1'"):
        model.predict_proba(X)


def test_isotonic_calibration_hand_computed():
    cal = fit_calibration(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1.0]), "isotonic")
    # pooled adjacent violators: 0, 0.5, 0.5, 1; linear between, clipped outside
    p = apply_calibration(cal, np.array([0.05, 0.15, 0.25, 0.4, 0.9]))
    assert p.tolist() == pytest.approx([PROBA_FLOOR, 0.25, 0.5, 1 - PROBA_FLOOR, 1 - PROBA_FLOOR])


def test_platt_calibration_is_monotone_sigmoid():
    rng = np.random.default_rng(0)
    p_raw = rng.uniform(0.05, 0.95, 500)
    y = (rng.random(500) < p_raw).astype(float)
    cal = fit_calibration(p_raw, y, "platt")
    assert cal["a"] == pytest.approx(1.0, abs=0.35) and cal["b"] == pytest.approx(0.0, abs=0.35)
    assert np.all(np.diff(apply_calibration(cal, np.sort(p_raw))) >= 0)


def test_choose_calibration_falls_back_to_platt_with_few_labels():
    assert choose_calibration(np.array([0.1, 0.2, 0.3, 0.9]), np.array([0, 0, 0, 1.0])) == "platt"


def test_monotone_constraints_by_feature_name_hold_against_the_data(data):
    # x1 raises conversion in the data; constrained to fall, the fitted curve can only fall
    # (flat at best), whatever the other columns
    model = ConversionModel(params={"learning_rate": 0.1, "num_leaves": 7,
                                    "monotone_constraints": {"x1": -1, "not_a_feature": 1}},
                            num_boost_round=60, early_stopping_rounds=15, num_threads=1)
    model.fit(*data["train"], *data["valid"])
    assert model.params_["monotone_constraints"] == [-1, 0, 0, 0]
    X = data["test"][0]
    grid = np.linspace(-3, 3, 25)
    for i in range(0, len(X), 40):
        rows = pd.concat([X.iloc[[i]]] * len(grid), ignore_index=True).assign(x1=grid)
        assert np.all(np.diff(model.predict_raw(rows)) <= 1e-12)
    free = _fit(data)
    assert metrics.auc(data["test"][1], free.predict_raw(X)) > metrics.auc(
        data["test"][1], model.predict_raw(X)) + 0.1
