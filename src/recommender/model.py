"""The conversion model: LightGBM plus calibration, reasons and saving as plain files."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recommender.errors import UserError
from recommender.io import atomic_path

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
BOOSTER_FILE = "booster.txt"
META_FILE = "model.json"
# Calibrated probabilities stay in [PROBA_FLOOR, 1 - PROBA_FLOOR]: an isotonic step fitted on
# a validation window without positives must not claim "impossible" (infinite log loss).
PROBA_FLOOR = 1e-4
# Predictions on fewer rows than this run on one thread: online requests skip OpenMP start-up.
SMALL_BATCH = 10_000
# Training on fewer rows than this runs on one thread by default: on a small, shared machine
# OpenMP threads that wait for each other cost more than they save (measured: 2 threads were
# 2-10x slower than 1 on 10k rows of a 2-core machine under load).
SMALL_TRAINING_SET = 50_000
CALIBRATION_FOLDS = 5

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "metric": "binary_logloss",
    "learning_rate": 0.03,
    # small, strongly regularised trees: conversion labels are noisy and training sets hold
    # thousands, not millions, of collaborations. Test AUC on three generated 5k-influencer
    # worlds (seeds 7, 1, 2): 15 leaves/lr 0.05/l2 1 gave 0.734, 0.715, 0.706; 4 leaves/lr
    # 0.03/l2 10 gave 0.737, 0.718, 0.709 (validation-window early stopping in both).
    "num_leaves": 4,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def _binary_labels(y: Any, name: str) -> np.ndarray:
    arr = np.asarray(y, dtype=float)
    if arr.ndim != 1 or np.isnan(arr).any() or not np.isin(arr, (0.0, 1.0)).all():
        raise UserError(f"{name}: labels must be 0/1 without missing values")
    if arr.min() == arr.max():
        raise UserError(
            f"{name}: all {len(arr)} labels are {int(arr[0]) if len(arr) else '-'}; "
            "both converting and non-converting collaborations are needed"
        )
    return arr


# --- calibration: plain numbers, applied the same way before and after saving -------------


def fit_calibration(p_raw: np.ndarray, y: np.ndarray, method: str) -> dict[str, Any]:
    """Fit a calibration map from raw probabilities to outcomes; return it as plain numbers.

    "isotonic": sklearn IsotonicRegression (piecewise linear between its thresholds, clipped
    outside them); "platt": sigmoid(a * logit(p) + b) by logistic regression.
    """
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p_raw, y)
        return {
            "method": "isotonic",
            "x": [float(v) for v in iso.X_thresholds_],
            "y": [float(v) for v in iso.y_thresholds_],
        }
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p_raw)[:, None], y)
        return {"method": "platt", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    raise UserError(f"calibration must be 'isotonic', 'platt' or 'auto', got {method!r}")


def apply_calibration(calibration: Mapping[str, Any], p_raw: np.ndarray) -> np.ndarray:
    """Map raw probabilities through a calibration from `fit_calibration`."""
    if calibration["method"] == "isotonic":
        p = np.interp(p_raw, calibration["x"], calibration["y"])
    elif calibration["method"] == "platt":
        p = _sigmoid(calibration["a"] * _logit(p_raw) + calibration["b"])
    else:
        raise UserError(f"unknown calibration method {calibration['method']!r}")
    return np.clip(p, PROBA_FLOOR, 1 - PROBA_FLOOR)


def choose_calibration(p_raw: np.ndarray, y: np.ndarray, folds: int = CALIBRATION_FOLDS) -> str:
    """'isotonic' or 'platt', whichever has the lower cross-fitted log loss on the validation
    window (contiguous folds in the given order, no shuffle). Too few labels of either class
    for every fold to see both: 'platt' (two parameters overfit less than a step function)."""
    from sklearn.metrics import log_loss

    blocks = np.array_split(np.arange(len(y)), folds)
    if len(y) < 2 * folds or any(np.delete(y, b).min() == np.delete(y, b).max() for b in blocks):
        return "platt"
    losses = {}
    for method in ("isotonic", "platt"):
        oof = np.empty(len(y))
        for b in blocks:
            rest = np.setdiff1d(np.arange(len(y)), b)
            oof[b] = apply_calibration(fit_calibration(p_raw[rest], y[rest], method), p_raw[b])
        losses[method] = log_loss(y, oof, labels=[0, 1])
    logger.info("calibration cross-fitted log loss: %s", losses)
    return min(losses, key=losses.get)


class ConversionModel:
    """LightGBM binary classifier of `converted`, calibrated on the validation window.

    Parameters are stored as given; all work happens in `fit`. Fitted attributes end with `_`.
    `categorical_features=None` takes every non-numeric, non-boolean column as categorical.
    `num_threads=None` trains on one thread below SMALL_TRAINING_SET rows, else on every core
    (the number used is recorded in `params_`). The parameter monotone_constraints may map
    feature names to +1 / -1 (features not named, and names not among the features, are
    unconstrained).
    """

    def __init__(
        self,
        params: Mapping[str, Any] | None = None,
        num_boost_round: int = 1000,
        early_stopping_rounds: int = 50,
        calibration: str = "auto",
        categorical_features: Sequence[str] | None = None,
        seed: int = 0,
        num_threads: int | None = None,
    ) -> None:
        self.params = params
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.calibration = calibration
        self.categorical_features = categorical_features
        self.seed = seed
        self.num_threads = num_threads

    # --- fitting ---------------------------------------------------------------------------

    def fit(
        self,
        X_train: pd.DataFrame,
        y_train: Any,
        X_valid: pd.DataFrame,
        y_valid: Any,
    ) -> ConversionModel:
        """Train with early stopping on the validation window, then calibrate on it."""
        import lightgbm as lgb

        y_tr, y_va = self._setup(X_train, y_train, X_valid, y_valid)
        cat_idx = self.categorical_indices()
        dtrain = lgb.Dataset(
            self.feature_matrix(X_train), label=y_tr, feature_name=self.features_,
            categorical_feature=cat_idx, free_raw_data=True,
        )
        dvalid = lgb.Dataset(self.feature_matrix(X_valid), label=y_va, reference=dtrain)
        booster = lgb.train(
            self.params_, dtrain, num_boost_round=self.num_boost_round,
            valid_sets=[dvalid], valid_names=["valid"],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        self._finish(booster, int(booster.best_iteration or booster.current_iteration()),
                     X_valid, y_va)
        logger.info("trained %d trees on %d rows (%d valid), calibration %s",
                    self.best_iteration_, len(y_tr), len(y_va), self.calibration_["method"])
        return self

    def categorical_indices(self) -> list[int]:
        """Positions of the categorical features in `features_` (LightGBM's argument)."""
        return [self.features_.index(c) for c in self.categorical_features_]

    def _setup(self, X_train: pd.DataFrame, y_train: Any, X_valid: pd.DataFrame,
               y_valid: Any) -> tuple[np.ndarray, np.ndarray]:
        """Check the labels; record features, categories and parameters from the training
        frame (every fit, local or distributed). Returns the labels as 0/1 arrays."""
        y_tr = _binary_labels(y_train, "training labels")
        y_va = _binary_labels(y_valid, "validation labels")
        if len(X_train) != len(y_tr) or len(X_valid) != len(y_va):
            raise UserError("features and labels must have the same number of rows")
        self.features_ = [str(c) for c in X_train.columns]
        self.categorical_features_ = self._categoricals(X_train)
        self.categories_ = {
            c: sorted(X_train[c].dropna().astype(str).unique().tolist())
            for c in self.categorical_features_
        }
        threads = self.num_threads
        if threads is None:
            threads = 1 if len(X_train) < SMALL_TRAINING_SET else (os.cpu_count() or 1)
        self.params_ = {
            **DEFAULT_PARAMS, **(self.params or {}), "seed": self.seed, "num_threads": threads,
        }
        monotone = self.params_.get("monotone_constraints")
        if isinstance(monotone, Mapping):  # {feature: +1 / -1}: LightGBM wants one per column
            self.params_["monotone_constraints"] = [int(monotone.get(f, 0))
                                                    for f in self.features_]
        return y_tr, y_va

    def _finish(self, booster, n_trees: int, X_valid: pd.DataFrame, y_valid: np.ndarray
                ) -> None:
        """Keep the first `n_trees` trees of a trained booster and calibrate on validation."""
        import lightgbm as lgb

        self.best_iteration_ = n_trees
        # keep exactly the trees that will be saved, so predictions survive save/load bit for bit
        self.booster_ = lgb.Booster(model_str=booster.model_to_string(n_trees))
        p_valid = self.predict_raw(X_valid, num_threads=self.params_["num_threads"])
        method = self.calibration
        if method == "auto":
            method = choose_calibration(p_valid, y_valid)
        self.calibration_ = fit_calibration(p_valid, y_valid, method)

    def _categoricals(self, X: pd.DataFrame) -> list[str]:
        if self.categorical_features is not None:
            missing = [c for c in self.categorical_features if c not in X.columns]
            if missing:
                raise UserError(f"categorical feature(s) {missing} are not columns of the frame")
            return [str(c) for c in self.categorical_features]
        cats = []
        for col in X.columns:
            dtype = X[col].dtype
            if pd.api.types.is_datetime64_any_dtype(dtype):
                raise UserError(f"feature column {col!r} holds timestamps; use a number instead")
            if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
                cats.append(str(col))
        return cats

    # --- encoding and prediction ----------------------------------------------------------

    def feature_matrix(self, X: pd.DataFrame, columns: list[str] | None = None) -> np.ndarray:
        """The float matrix the booster reads: `features_` order; categoricals as codes of the
        TRAINING categories (unseen or missing values become NaN, which LightGBM treats as
        missing). Encode once to both score and explain the same rows (`*_of_matrix`).
        `columns` (some of `features_`): only those, in that order (the ranker encodes the
        influencer side once and a brief's brand side apart)."""
        columns = self.features_ if columns is None else columns
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise UserError(f"the frame lacks feature column(s) {missing}")
        out = np.empty((len(X), len(columns)), dtype=np.float64)
        for j, col in enumerate(columns):
            if col in self.categories_:
                # Index.get_indexer rather than pd.Categorical(values, categories=...): the
                # latter is deprecated for values outside the categories (pandas 3). Only the
                # distinct values are looked up (3x faster on large batches).
                rows, values = pd.factorize(X[col])
                categories = pd.Index(self.categories_[col], dtype="string")
                codes = categories.get_indexer(pd.Index(values).astype("string"))
                lookup = np.append(np.where(codes < 0, np.nan, codes), np.nan)
                out[:, j] = lookup[rows]  # a missing value (row code -1) takes the final NaN
                continue
            try:
                out[:, j] = X[col].to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                bad = X[col].dropna().iloc[0] if X[col].notna().any() else None
                raise UserError(
                    f"feature column {col!r} must be numeric (e.g. value {bad!r})"
                ) from exc
        return out

    def threads_for(self, n_rows: int, num_threads: int | None = None) -> int:
        """Threads to predict `n_rows` rows: `num_threads` if given; one thread for fewer
        than SMALL_BATCH rows (online requests skip OpenMP start-up); else every core."""
        if num_threads is not None:
            return num_threads
        if n_rows < SMALL_BATCH:
            return 1
        return self.num_threads if self.num_threads is not None else (os.cpu_count() or 1)

    def predict_raw(self, X: pd.DataFrame, num_threads: int | None = None) -> np.ndarray:
        """LightGBM's probability before calibration, one per row."""
        return self.raw_of_matrix(self.feature_matrix(X), self.threads_for(len(X), num_threads))

    def raw_of_matrix(self, matrix: np.ndarray, num_threads: int) -> np.ndarray:
        """`predict_raw` of rows already encoded by `feature_matrix`."""
        return self.booster_.predict(matrix, num_threads=num_threads)

    def predict_proba(self, X: pd.DataFrame, num_threads: int | None = None) -> np.ndarray:
        """Calibrated conversion probability, one per row (a 1-D array)."""
        return apply_calibration(self.calibration_, self.predict_raw(X, num_threads))

    def contributions(self, X: pd.DataFrame, num_threads: int | None = None) -> pd.DataFrame:
        """Per-feature contributions (SHAP values, log-odds of the uncalibrated model) and
        the `bias` column; each row sums to the raw log-odds. Index of `X` kept."""
        out = self.contributions_of_matrix(self.feature_matrix(X),
                                           self.threads_for(len(X), num_threads))
        return out.set_axis(X.index)

    def contributions_of_matrix(self, matrix: np.ndarray, num_threads: int) -> pd.DataFrame:
        """`contributions` of rows already encoded by `feature_matrix` (a fresh index)."""
        values = self.booster_.predict(matrix, pred_contrib=True, num_threads=num_threads)
        return pd.DataFrame(values, columns=[*self.features_, "bias"])

    def feature_importance(self) -> pd.DataFrame:
        """Columns feature, gain, gain_share, split; sorted by gain, largest first."""
        gain = self.booster_.feature_importance("gain")
        total = gain.sum()
        return (
            pd.DataFrame(
                {
                    "feature": self.features_,
                    "gain": gain,
                    "gain_share": gain / total if total > 0 else np.zeros_like(gain),
                    "split": self.booster_.feature_importance("split"),
                }
            )
            .sort_values(["gain", "feature"], ascending=[False, True], kind="stable")
            .reset_index(drop=True)
        )

    # --- persistence: LightGBM text + JSON, no pickle -------------------------------------

    def save(self, directory: Path | str) -> Path:
        """Write `booster.txt` (LightGBM text format) and `model.json` into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / BOOSTER_FILE) as tmp:
            self.booster_.save_model(tmp)
        meta = {
            "format_version": FORMAT_VERSION,
            "features": self.features_,
            "categorical_features": self.categorical_features_,
            "categories": self.categories_,
            "calibration": self.calibration_,
            "best_iteration": self.best_iteration_,
            "params": self.params_,
            "init": {
                "num_boost_round": self.num_boost_round,
                "early_stopping_rounds": self.early_stopping_rounds,
                "calibration": self.calibration,
                "seed": self.seed,
                "num_threads": self.num_threads,
            },
        }
        with atomic_path(directory / META_FILE) as tmp:
            tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: Path | str) -> ConversionModel:
        """Restore a model written by `save`; it predicts exactly as the saved one."""
        import lightgbm as lgb

        directory = Path(directory)
        for name in (BOOSTER_FILE, META_FILE):
            if not (directory / name).is_file():
                raise UserError(f"{directory}: no {name}; not a saved conversion model")
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise UserError(
                f"{directory / META_FILE}: format_version {meta.get('format_version')!r}, "
                f"this code reads {FORMAT_VERSION}"
            )
        model = cls(categorical_features=meta["categorical_features"], **meta["init"])
        model.features_ = list(meta["features"])
        model.categorical_features_ = list(meta["categorical_features"])
        model.categories_ = {k: list(v) for k, v in meta["categories"].items()}
        model.calibration_ = meta["calibration"]
        model.best_iteration_ = int(meta["best_iteration"])
        model.params_ = meta["params"]
        model.booster_ = lgb.Booster(model_file=str(directory / BOOSTER_FILE))
        if model.booster_.feature_name() != model.features_:
            raise UserError(f"{directory}: {BOOSTER_FILE} and {META_FILE} disagree on features")
        return model
