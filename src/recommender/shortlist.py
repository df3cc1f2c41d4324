"""The ranker's first stage, fitted: an additive surrogate of the model's logit, as plain numbers.

The surrogate is a sum of per-feature step functions (one weight per quantile bin of each
numeric feature, per value of each categorical one, and one for "missing"): the shape a tree
ensemble is made of, without its interactions. It is fitted by ridge least squares to the
booster's raw logit on sampled (brand, influencer) pairs, centred per brand (only the order
within one brief matters). Influencer features get two sets of weights: one for pairs
whose niche is the brand's category (where the top of a ranking lies) and one for the rest.
It is stored as plain JSON numbers, never pickled; `recommender.first_stage` applies it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from recommender.features import (
    BRAND_FEATURES,
    INFLUENCER_FEATURES,
    PAIR_FEATURES,
    PairContext,
    inline_brand_profile,
    pair_features,
)

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2
N_BINS = 16
RIDGE = 1.0
# The pair history of a known brand is sparse: influencers with one are always kept instead.
HISTORY_FEATURES = ("pair_collab_count", "pair_conversion_rate")
PAIR_SURROGATE_FEATURES = [f for f in PAIR_FEATURES if f not in HISTORY_FEATURES]
SAMPLE_PAIRS = 60_000
MAX_SAMPLE_BRANDS = 200


def _numeric_spec(name: str, values: np.ndarray) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    qs = np.quantile(finite, np.arange(1, N_BINS) / N_BINS) if len(finite) else np.zeros(0)
    return {"name": name, "kind": "numeric", "edges": [float(v) for v in np.unique(qs)]}


def _categorical_spec(name: str, values: pd.Series) -> dict[str, Any]:
    return {"name": name, "kind": "categorical",
            "values": sorted(values.dropna().astype(str).unique().tolist())}


def _n_slots(spec: Mapping[str, Any]) -> int:
    """Bins of a feature: numeric len(edges) + 1 plus missing; categorical values plus other."""
    if spec["kind"] == "numeric":
        return len(spec["edges"]) + 2
    return len(spec["values"]) + 1


def bin_index(spec: Mapping[str, Any], values: Any) -> np.ndarray:
    """Slot of each value in the feature's weight vector (the last slot: missing or unseen)."""
    if spec["kind"] == "numeric":
        x = np.asarray(values, dtype=np.float64)
        edges = np.asarray(spec["edges"], dtype=np.float64)
        slots = np.searchsorted(edges, x, side="right")
        return np.where(np.isnan(x), len(edges) + 1, slots)
    codes = pd.Index(spec["values"], dtype="str").get_indexer(pd.Index(values, dtype="str"))
    return np.where(codes < 0, len(spec["values"]), codes)


def _design(specs: list[dict[str, Any]], frame: pd.DataFrame, matched: np.ndarray):
    """Sparse one-hot matrix: one column per slot of every feature; influencer features get
    two sets of slots, one for pairs whose niche is the brand's category, one for the rest."""
    from scipy import sparse

    widths = [_n_slots(s) * (2 if s["side"] == "influencer" else 1) for s in specs]
    offsets = np.cumsum([0] + widths)
    cols = np.column_stack([
        offsets[j] + bin_index(s, frame[s["name"]])
        + (matched * _n_slots(s) if s["side"] == "influencer" else 0)
        for j, s in enumerate(specs)])
    rows = np.repeat(np.arange(len(frame)), len(specs))
    return sparse.csr_matrix((np.ones(cols.size), (rows, cols.ravel())),
                             shape=(len(frame), offsets[-1])), offsets


def inline_twins(brand_side: pd.DataFrame, context: PairContext, n: int = MAX_SAMPLE_BRANDS,
                 seed: int = 0) -> pd.DataFrame:
    """Known brands as a brief describing them inline would give them: same category,
    country and targets, without a track record (the history an inline brand gets)."""
    rng = np.random.default_rng(seed)
    twins = brand_side.iloc[rng.permutation(len(brand_side))[:n]].reset_index(drop=True)
    if twins.empty:
        return twins
    proto = inline_brand_profile("other", as_of=twins["as_of"].iloc[0], context=context)
    history = {c: proto[c].iloc[0] for c in BRAND_FEATURES if c != "category"}
    return twins.assign(brand_id="__inline__" + twins["brand_id"].astype(str), **history)


def sample_pairs(influencer_side: pd.DataFrame, brand_side: pd.DataFrame, seed: int = 0,
                 n_pairs: int = SAMPLE_PAIRS) -> pd.DataFrame:
    """brand_id, influencer_id, as_of: each brand of `brand_side` with random influencers,
    half of them from the niche that is the brand's category (where the top of a ranking is)."""
    rng = np.random.default_rng(seed)
    ids = influencer_side["influencer_id"].to_numpy()
    niche = influencer_side["niche"].to_numpy(dtype=object)
    if len(brand_side) > 2 * MAX_SAMPLE_BRANDS:
        brand_side = brand_side.iloc[rng.permutation(len(brand_side))[:2 * MAX_SAMPLE_BRANDS]]
    per_brand = min(len(ids), max(50, n_pairs // max(len(brand_side), 1)))
    brands, picks = [], []
    for brand_id, category in zip(brand_side["brand_id"], brand_side["category"], strict=True):
        same = np.flatnonzero(niche == category)
        k = min(len(same), per_brand // 2)
        pick = np.concatenate([rng.choice(same, k, replace=False),
                               rng.choice(len(ids), per_brand - k, replace=False)])
        picks.append(np.unique(pick))
        brands.append(np.full(len(picks[-1]), brand_id, dtype=object))
    return pd.DataFrame({
        "brand_id": np.concatenate(brands).astype(str) if brands else np.zeros(0, str),
        "influencer_id": ids[np.concatenate(picks)] if picks else ids[:0],
        "as_of": brand_side["as_of"].iloc[0] if len(brand_side) else pd.NaT,
    })


def fit_shortlist(model, influencer_side: pd.DataFrame, brand_side: pd.DataFrame,
                  context: PairContext, pairs: pd.DataFrame) -> dict[str, Any]:
    """Fit the surrogate to `model`'s raw logit on `pairs` (features as in the ranker).

    `influencer_side` / `brand_side` are the two sides at the pairs' as_of (one row per id).
    Returns the surrogate as plain numbers, with its fit (R^2 on the pairs, within brands).
    """
    inf_rows = pd.Index(influencer_side["influencer_id"]).get_indexer(pairs["influencer_id"])
    feats = pair_features(influencer_side.take(inf_rows).reset_index(drop=True), brand_side,
                          context, pairs.reset_index(drop=True))
    logit = model.booster_.predict(model.feature_matrix(feats), raw_score=True,
                                  num_threads=1)
    y = logit - pd.Series(logit).groupby(pairs["brand_id"].to_numpy()).transform("mean").to_numpy()
    specs = []
    for name in INFLUENCER_FEATURES + PAIR_SURROGATE_FEATURES:
        if name in model.categorical_features_:
            spec = _categorical_spec(name, feats[name])
        else:
            spec = _numeric_spec(name, feats[name].to_numpy(np.float64, na_value=np.nan))
        spec["side"] = "influencer" if name in INFLUENCER_FEATURES else "pair"
        specs.append(spec)
    matched = (feats["niche_match"].to_numpy(np.float64, na_value=0.0) == 1.0).astype(np.int64)
    X, offsets = _design(specs, feats, matched)
    gram = (X.T @ X).toarray() + RIDGE * np.eye(X.shape[1])
    w = np.linalg.solve(gram, X.T @ y)
    fitted = np.asarray(X @ w).ravel()
    r2 = 1.0 - float(np.sum((y - fitted) ** 2) / max(np.sum(y ** 2), 1e-12))
    for j, spec in enumerate(specs):
        part = [float(v) for v in w[offsets[j]:offsets[j + 1]]]
        if spec["side"] == "influencer":  # [niche differs, niche is the category]
            half = _n_slots(spec)
            spec["weights"] = [part[:half], part[half:]]
        else:
            spec["weights"] = part
    logger.info("shortlist surrogate: %d pairs, %d slots, R^2 %.3f within brands",
                len(pairs), X.shape[1], r2)
    return {"format_version": FORMAT_VERSION, "features": specs,
            "fit": {"pairs": int(len(pairs)), "brands": int(pairs["brand_id"].nunique()),
                    "r2_within_brand": r2}}
