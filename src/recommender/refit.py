"""Refit before logging: the selected booster's settings grown again on more windows, with a
cross-fitted calibration.

Model selection (early stopping on the validation window) fixes the number of rounds; the
model that is logged and served is then grown with exactly those rounds on train +
validation (optionally + test), so it has seen the most recent months. Its own predictions on
those rows are in-sample and cannot calibrate it, so the calibration map is fitted on
OUT-OF-FOLD predictions instead: the rows are cut into contiguous time folds, each fold is
predicted by a booster of the same rounds grown on the other folds, and the map (isotonic or
Platt, as chosen) is fitted to those predictions (the scheme of sklearn's
CalibratedClassifierCV with ensemble=False). The fold boosters see (folds-1)/folds of the
rows, so the final booster is, if anything, a little sharper than the map assumes.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import pandas as pd

from recommender.model import ConversionModel, choose_calibration, fit_calibration

logger = logging.getLogger(__name__)

FOLDS = 5


def _grow(model: ConversionModel, X: pd.DataFrame, y: np.ndarray):
    """A LightGBM booster of `model`'s parameters and best_iteration_ rounds on (X, y), as
    read back from its text (so that it predicts exactly as after saving)."""
    import lightgbm as lgb

    data = lgb.Dataset(model.feature_matrix(X), label=y, feature_name=model.features_,
                       categorical_feature=model.categorical_indices(), free_raw_data=True)
    booster = lgb.train(model.params_, data, num_boost_round=model.best_iteration_)
    return lgb.Booster(model_str=booster.model_to_string())


def refit(model: ConversionModel, X: pd.DataFrame, y, folds: int = FOLDS) -> ConversionModel:
    """A copy of the fitted `model` whose booster is grown again on (X, y), rows in time
    order, with `model.best_iteration_` rounds, calibrated on out-of-fold predictions.

    The categories of the categorical features stay those of `model` (its training window),
    so codes mean the same in both. `model` itself is not changed."""
    y = np.asarray(y, dtype=float)
    X = X[model.features_].reset_index(drop=True)
    if len(X) != len(y):
        raise ValueError("refit: features and labels must have the same number of rows")
    oof = np.empty(len(y))
    for block in np.array_split(np.arange(len(y)), folds):
        rest = np.setdiff1d(np.arange(len(y)), block)
        if y[rest].min() == y[rest].max():
            raise ValueError("refit: a fold leaves a single class to train on; fewer folds "
                             "or more rows are needed")
        oof[block] = _grow(model, X.iloc[rest], y[rest]).predict(
            model.feature_matrix(X.iloc[block]), num_threads=model.params_["num_threads"])
    out = copy.copy(model)
    out.booster_ = _grow(model, X, y)
    method = model.calibration if model.calibration != "auto" else choose_calibration(oof, y)
    out.calibration_ = fit_calibration(oof, y, method)
    out.refit_rows_ = len(y)
    logger.info("refit %d trees on %d rows; calibration %s on %d-fold out-of-fold predictions",
                out.best_iteration_, len(y), method, folds)
    return out
