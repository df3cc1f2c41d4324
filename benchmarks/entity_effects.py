"""Experiment: entity effects the empirical-Bayes way, with the model's margin as offset.

Each influencer's and each brand's own log-odds effect u ~ N(0, sigma^2) is estimated from
the outcomes of its collaborations strictly before each row's as_of, given what the model
already explains: converted ~ Bernoulli(sigmoid(margin + u)), the posterior mean on a grid
(ceiling.posterior_mean). sigma is chosen on the train window (the prequential log loss of
its rows, each scored from the rows before it), the sum margin + u_influencer + u_brand is
Platt-calibrated on the validation window. Two ways, both measured against the model with the
current shrunk rates (features inf/brand/pair_conversion_rate):
- "eb_over_model": the offsets added to the default model (shrunk rates kept);
- "eb_instead": a model without the shrunk-rate features, plus the offsets.
The catalogue is scored the same way: the offsets of every account from all its
collaborations before the catalogue's as_of, zero (the prior mean) for accounts never booked.
This lives in benchmarks/ only: it is not (yet) a part of the served model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from ceiling import posterior_at_end, posterior_mean

SIGMAS = (0.1, 0.2, 0.35, 0.5, 0.7, 1.0)
RATE_FEATURES = ("inf_conversion_rate", "inf_conversions_per_collab", "brand_conversion_rate",
                 "pair_conversion_rate")
KEYS = ("influencer_id", "brand_id")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _prequential_loss(y: np.ndarray, z: np.ndarray) -> float:
    p = np.clip(1 / (1 + np.exp(-z)), 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def fit_offsets(rows: pd.DataFrame, margin: np.ndarray, train: np.ndarray
                ) -> tuple[np.ndarray, dict[str, float]]:
    """Per-row offset u_influencer + u_brand (point in time) and the sigmas chosen on the
    train rows (mask `train`), influencer first, then brand given it."""
    y = rows["converted"].to_numpy(dtype=float)
    offset, sigmas = np.zeros(len(rows)), {}
    for key in KEYS:
        best = None
        for s in SIGMAS:
            u = posterior_mean(rows, key, margin + offset, s)
            loss = _prequential_loss(y[train], (margin + offset + u)[train])
            if best is None or loss < best[0]:
                best = (loss, s, u)
        sigmas[key] = best[1]
        offset = offset + best[2]
    return offset, sigmas


def catalogue_offsets(rows: pd.DataFrame, margin: np.ndarray, catalogue: pd.DataFrame,
                      sigmas: dict[str, float]) -> np.ndarray:
    """Offsets of the catalogue's pairs from every collaboration before its as_of."""
    before = (rows["as_of"] < catalogue["as_of"].min()).to_numpy()
    past, m = rows[before], margin[before]
    out = np.zeros(len(catalogue))
    known = m.copy()
    for key in KEYS:
        u_rows = posterior_mean(past, key, known, sigmas[key])  # per-row, for the next key
        out += posterior_at_end(past, key, known, sigmas[key], catalogue[key])
        known = known + u_rows
    return out


def eb_scores(model, data, cat_features: pd.DataFrame, catalogue: pd.DataFrame
              ) -> dict[str, np.ndarray]:
    """valid/test calibrated probabilities and catalogue log-odds of model margin + offsets."""
    from recommender.model import apply_calibration, fit_calibration

    rows = data.rows
    margin = _logit(model.predict_raw(rows[model.features_]))
    train_mask = rows["collaboration_id"].isin(data.train["collaboration_id"]).to_numpy()
    offset, sigmas = fit_offsets(rows, margin, train_mask)
    z = pd.Series(margin + offset, index=rows["collaboration_id"].to_numpy())
    z_valid = z.loc[data.valid["collaboration_id"]].to_numpy()
    z_test = z.loc[data.test["collaboration_id"]].to_numpy()
    cal = fit_calibration(1 / (1 + np.exp(-z_valid)), data.valid["converted"].to_numpy(float),
                          "platt")
    cat = (_logit(model.predict_raw(cat_features[model.features_]))
           + catalogue_offsets(rows, margin, catalogue, sigmas))
    return {"test": apply_calibration(cal, 1 / (1 + np.exp(-z_test))), "catalogue": cat,
            "z_valid": z_valid, "sigma_influencer": sigmas["influencer_id"],
            "sigma_brand": sigmas["brand_id"]}


def without_rates(data, params: dict, seed: int = 7):
    """The default model fitted without the shrunk-rate features."""
    from recommender.features import CATEGORICAL_FEATURES, FEATURE_COLUMNS, LABEL
    from recommender.model import ConversionModel

    features = [c for c in FEATURE_COLUMNS if c not in RATE_FEATURES]
    model = ConversionModel(params=params or None, seed=seed, calibration="platt",
                            categorical_features=CATEGORICAL_FEATURES)
    return model.fit(data.train[features], data.train[LABEL], data.valid[features],
                     data.valid[LABEL])


def entity_effect_figures(data, model, params: dict, cat_features: pd.DataFrame,
                          catalogue: pd.DataFrame, oracle_auc: float) -> dict[str, float]:
    """Test AUC, share of the oracle's lift, ECE, validation log loss and brute-force
    catalogue NDCG@10 of: the model without shrunk rates ("norates"), the default model plus
    offsets ("eb_over"), the model without shrunk rates plus offsets ("eb_instead")."""
    from recommender.catalogue import catalogue_ndcg
    from recommender.metrics import auc, expected_calibration_error, log_loss

    y_test, y_valid = data.test["converted"].to_numpy(), data.valid["converted"].to_numpy()
    bare = without_rates(data, params)
    out = {}
    runs = {"norates": None, "eb_over": model, "eb_instead": bare}
    for name, base in runs.items():
        if base is None:
            test = bare.predict_proba(data.test[bare.features_])
            valid = bare.predict_raw(data.valid[bare.features_])
            cat = bare.predict_raw(cat_features[bare.features_])
        else:
            s = eb_scores(base, data, cat_features, catalogue)
            test, valid, cat = s["test"], 1 / (1 + np.exp(-s["z_valid"])), s["catalogue"]
            out[f"{name}_sigmas"] = f"{s['sigma_influencer']}/{s['sigma_brand']}"
        a = auc(y_test, test)
        out |= {f"{name}_auc": a, f"{name}_share": (a - 0.5) / (oracle_auc - 0.5),
                f"{name}_ece": expected_calibration_error(y_test, test),
                f"{name}_valid_log_loss": log_loss(y_valid, valid),
                f"{name}_cat_ndcg_10": catalogue_ndcg(catalogue, cat, 10)}
    return out
