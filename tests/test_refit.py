"""Refit before logging: the selected rounds grown on more windows, calibrated out of fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender.model import ConversionModel
from recommender.refit import refit


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "c": rng.choice(["x", "y", "z"], n)})
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X["a"] - 0.5)))).astype(float)
    return X, y


@pytest.fixture(scope="module")
def selected():
    X, y = _frame(1200, 0)
    model = ConversionModel(num_boost_round=40, early_stopping_rounds=10, calibration="platt",
                            categorical_features=["c"], params={"min_data_in_leaf": 20})
    return model.fit(X[:800], y[:800], X[800:], y[800:]), X, y


def test_refit_grows_the_selected_rounds_on_all_rows_it_is_given(selected):
    import lightgbm as lgb

    model, X, y = selected
    out = refit(model, X, y)
    assert out.booster_.num_trees() == model.best_iteration_
    direct = lgb.train(model.params_, lgb.Dataset(model.feature_matrix(X), label=y,
                                                  feature_name=model.features_,
                                                  categorical_feature=model.categorical_indices()),
                       num_boost_round=model.best_iteration_)
    np.testing.assert_allclose(out.predict_raw(X), direct.predict(model.feature_matrix(X)))
    assert not np.allclose(out.predict_raw(X), model.predict_raw(X))  # saw the last 400 rows
    assert model.booster_ is not out.booster_ and model.calibration_["method"] == "platt"


def test_calibration_is_fitted_out_of_fold_not_on_the_booster_s_own_rows():
    # labels of pure noise and trees that memorise them: an in-sample calibration would trust
    # the memorised order; out-of-fold predictions show there is none, so scores stay flat
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=1000), "b": rng.normal(size=1000)})
    y = (rng.uniform(size=1000) < 0.3).astype(float)
    model = ConversionModel(num_boost_round=150, early_stopping_rounds=150,
                            calibration="isotonic", categorical_features=[],
                            params={"num_leaves": 32, "min_data_in_leaf": 2,
                                    "lambda_l2": 0.0, "learning_rate": 0.2})
    model.fit(X, y, X, y)  # validation = training rows: early stopping keeps every round
    out = refit(model, X, y)
    fresh = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    p = out.predict_proba(fresh)
    assert abs(p.mean() - 0.3) < 0.05 and p.std() < 0.08
    assert model.predict_proba(fresh).std() > 2 * p.std()  # the in-sample map spreads them
