"""The informed learner: how much of the oracle's lift can any model learn from a world's data?

The oracle scores with `p_true`, which holds two hidden per-account effects (the influencer's
and the brand's) and per-collaboration noise that no table shows. The informed learner is
handed every other term of the true log-odds exactly (from `truth.parquet`'s `logit_*`
columns, written by `recommender generate`) and estimates each hidden effect the Bayes way
from the outcomes of the same account's collaborations strictly before `as_of`. A logistic
regression on these features, fitted on the train window, is about the best any model of the
world's observable data could do; its share of the oracle's lift is the ceiling our model's
share should be read against.

On the catalogue (truth_catalogue.parquet: every micro-influencer for sample brands, at an
instant after the last collaboration) the informed learner gets the same: the exact observable
terms of each pair and the posterior of each hidden effect given every earlier collaboration
of the same account (zero, the prior mean, for accounts never booked), scored with the
logistic regression fitted on the train window's collaborations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

GRID = np.linspace(-3.0, 3.0, 121)
HIDDEN = {"logit_influencer_effect": "influencer_id", "logit_brand_effect": "brand_id"}
UNSEEN = ("logit_noise",)


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -z)


def posterior_mean(rows: pd.DataFrame, key: str, known: np.ndarray, sigma: float) -> np.ndarray:
    """E[effect | outcomes of `key`'s collaborations strictly before each row's as_of], under
    converted ~ Bernoulli(sigmoid(known + effect)) and effect ~ N(0, sigma^2), on a grid."""
    order = np.argsort(rows["as_of"].to_numpy(), kind="stable")
    y = rows["converted"].to_numpy(dtype=float)[order, None]
    z = known[order, None] + GRID[None, :]
    loglik = y * _log_sigmoid(z) + (1.0 - y) * _log_sigmoid(-z)
    t = rows["as_of"].to_numpy()[order]
    keys = rows[key].to_numpy()[order]
    out = np.empty(len(rows))
    for idx in pd.Series(np.arange(len(keys))).groupby(keys, sort=False).indices.values():
        before = np.searchsorted(t[idx], t[idx], side="left")  # ties are not "before"
        cum = np.vstack([np.zeros(len(GRID)), np.cumsum(loglik[idx], axis=0)])[before]
        logpost = cum - GRID**2 / (2.0 * sigma**2)
        w = np.exp(logpost - logpost.max(axis=1, keepdims=True))
        out[idx] = (w @ GRID) / w.sum(axis=1)
    result = np.empty(len(rows))
    result[order] = out
    return result


def _intercept(p: np.ndarray, terms: pd.DataFrame) -> float:
    """The constant of the true log-odds: what the terms leave of logit(p_true)."""
    return float(np.median(np.log(p / (1.0 - p)) - terms.sum(axis=1).to_numpy()))


def posterior_at_end(rows: pd.DataFrame, key: str, known: np.ndarray, sigma: float,
                     wanted: pd.Series) -> np.ndarray:
    """E[effect of each `wanted` key | outcomes of all its collaborations in `rows`]
    (prior N(0, sigma^2) on the grid; 0 for a key without collaborations)."""
    y = rows["converted"].to_numpy(dtype=float)[:, None]
    z = known[:, None] + GRID[None, :]
    loglik = pd.DataFrame(y * _log_sigmoid(z) + (1.0 - y) * _log_sigmoid(-z))
    total = loglik.groupby(rows[key].to_numpy()).sum()
    logpost = total.to_numpy() - GRID**2 / (2.0 * sigma**2)
    w = np.exp(logpost - logpost.max(axis=1, keepdims=True))
    mean = pd.Series((w @ GRID) / w.sum(axis=1), index=total.index)
    return mean.reindex(wanted.to_numpy()).fillna(0.0).to_numpy()


def informed_catalogue_features(rows: pd.DataFrame, truth: pd.DataFrame,
                                catalogue: pd.DataFrame) -> pd.DataFrame:
    """The catalogue (truth_catalogue.parquet) with the informed learner's features: its
    observable logit_* terms and the hidden effects' posteriors from `rows` (training-set
    rows with converted) strictly before the catalogue's as_of."""
    out = rows.merge(truth, on="collaboration_id", how="left")
    out = out[out["as_of"] < catalogue["as_of"].min()]
    terms = [c for c in truth.columns if c.startswith("logit_")]
    seen = [c for c in terms if c not in HIDDEN and c not in UNSEEN]
    known = (_intercept(out["p_true"].to_numpy(), out[terms])
             + out[seen].sum(axis=1).to_numpy())
    result = catalogue.copy()
    for term, key in HIDDEN.items():
        sigma = float(out.groupby(key)[term].first().std())
        result[f"{term}_estimate"] = posterior_at_end(out, key, known, sigma, catalogue[key])
    return result


def informed_features(rows: pd.DataFrame, truth: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """`rows` (training-set rows with collaboration_id, brand_id, influencer_id, as_of,
    converted) with the informed learner's features added; also their names."""
    terms = [c for c in truth.columns if c.startswith("logit_")]
    if not set(HIDDEN) <= set(terms):
        raise ValueError("truth.parquet has no logit_* terms: regenerate the world")
    out = rows.merge(truth[["collaboration_id", "p_true", *terms]], on="collaboration_id",
                     how="left")
    seen = [c for c in terms if c not in HIDDEN and c not in UNSEEN]
    known = _intercept(out["p_true"].to_numpy(), out[terms]) + out[seen].sum(axis=1).to_numpy()
    names = list(seen)
    for term, key in HIDDEN.items():
        sigma = float(out.groupby(key)[term].first().std())
        out[f"{term}_estimate"] = posterior_mean(out, key, known, sigma)
        names.append(f"{term}_estimate")
    return out, names


def informed_learner_scores(train: pd.DataFrame, test: pd.DataFrame | list[pd.DataFrame],
                            features: list[str], label: str = "converted"
                            ) -> np.ndarray | list[np.ndarray]:
    """Logistic regression of `label` on the informed features, fitted on `train`; the
    scores of `test` (or of each frame of a list of them)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=1000).fit(train[features], train[label])
    if isinstance(test, list):
        return [model.decision_function(t[features]) for t in test]
    return model.decision_function(test[features])
