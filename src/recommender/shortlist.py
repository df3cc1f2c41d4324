"""The ranker's first stage: an additive surrogate of the model's logit that shortlists candidates.

The surrogate is a sum of per-feature step functions (one weight per quantile bin of each
numeric feature, per value of each categorical one, and one for "missing"): the shape a tree
ensemble is made of, without its interactions. It is fitted by ridge least squares to the
booster's raw logit on sampled (brand, influencer) pairs, centred per brand (only the order
within one brief matters). The influencer-side part of every catalogue row is summed once
when the ranker loads; per brief only the cheap pair features are binned and added.
It is stored as plain JSON numbers, never pickled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from recommender.features import INFLUENCER_FEATURES, PAIR_FEATURES, PairContext, pair_features
from recommender.features.audience import audience_pair_features
from recommender.features.history import global_rate
from recommender.features.niche import niche_features
from recommender.features.timeline import to_ns

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
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


def _design(specs: list[dict[str, Any]], frame: pd.DataFrame):
    """Sparse one-hot matrix: one column per slot of every feature."""
    from scipy import sparse

    offsets = np.cumsum([0] + [_n_slots(s) for s in specs])
    cols = np.column_stack([offsets[j] + bin_index(s, frame[s["name"]])
                            for j, s in enumerate(specs)])
    rows = np.repeat(np.arange(len(frame)), len(specs))
    data = np.ones(cols.size)
    return sparse.csr_matrix((data, (rows, cols.ravel())), shape=(len(frame), offsets[-1]))


def sample_pairs(influencer_side: pd.DataFrame, brand_ids: pd.Series, as_of: pd.Timestamp,
                 seed: int = 0, n_pairs: int = SAMPLE_PAIRS) -> pd.DataFrame:
    """brand_id, influencer_id, as_of: each sampled brand with a random set of influencers."""
    rng = np.random.default_rng(seed)
    brands = brand_ids.to_numpy()
    if len(brands) > MAX_SAMPLE_BRANDS:
        brands = rng.choice(brands, MAX_SAMPLE_BRANDS, replace=False)
    ids = influencer_side["influencer_id"].to_numpy()
    per_brand = min(len(ids), max(50, n_pairs // max(len(brands), 1)))
    picks = [rng.choice(len(ids), per_brand, replace=False) for _ in brands]
    return pd.DataFrame({
        "brand_id": np.repeat(brands, per_brand).astype(str),
        "influencer_id": ids[np.concatenate(picks)] if picks else ids[:0],
        "as_of": as_of,
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
    logit = model.booster_.predict(model._matrix(feats), raw_score=True, num_threads=1)
    y = logit - pd.Series(logit).groupby(pairs["brand_id"].to_numpy()).transform("mean").to_numpy()
    specs = []
    for name in INFLUENCER_FEATURES + PAIR_SURROGATE_FEATURES:
        if name in model.categorical_features_:
            specs.append(_categorical_spec(name, feats[name]))
        else:
            specs.append(_numeric_spec(name, feats[name].to_numpy(np.float64, na_value=np.nan)))
    X = _design(specs, feats)
    gram = (X.T @ X).toarray() + RIDGE * np.eye(X.shape[1])
    w = np.linalg.solve(gram, X.T @ y)
    fitted = np.asarray(X @ w).ravel()
    r2 = 1.0 - float(np.sum((y - fitted) ** 2) / max(np.sum(y ** 2), 1e-12))
    offsets = np.cumsum([0] + [_n_slots(s) for s in specs])
    for j, spec in enumerate(specs):
        spec["weights"] = [float(v) for v in w[offsets[j]:offsets[j + 1]]]
        spec["side"] = "influencer" if spec["name"] in INFLUENCER_FEATURES else "pair"
    logger.info("shortlist surrogate: %d pairs, %d slots, R^2 %.3f within brands",
                len(pairs), X.shape[1], r2)
    return {"format_version": FORMAT_VERSION, "features": specs,
            "fit": {"pairs": int(len(pairs)), "brands": int(pairs["brand_id"].nunique()),
                    "r2_within_brand": r2}}


class Shortlist:
    """The fitted surrogate applied to one catalogue (the snapshot's influencer side)."""

    def __init__(self, surrogate: Mapping[str, Any], influencer_side: pd.DataFrame,
                 context: PairContext) -> None:
        if surrogate.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"shortlist format_version {surrogate.get('format_version')!r}, "
                             f"this code reads {FORMAT_VERSION}")
        self.pair_specs = [s for s in surrogate["features"] if s["side"] == "pair"]
        base = np.zeros(len(influencer_side))
        for spec in surrogate["features"]:
            if spec["side"] == "influencer":
                base += np.asarray(spec["weights"])[bin_index(spec, influencer_side[spec["name"]])]
        self.base = base
        self._side = influencer_side
        self._context = context
        self._niche_codes, self._niches = pd.factorize(influencer_side["niche"])
        self._country_codes, self._countries = pd.factorize(influencer_side["influencer_country"])

    def pair_values(self, rows: np.ndarray, brand: pd.DataFrame) -> dict[str, np.ndarray]:
        """The surrogate's pair features of catalogue `rows` with a one-row brand profile:
        the values `pair_features` gives, computed from codes made once per catalogue."""
        b = brand.iloc[0]
        ctx = self._context
        country = b["brand_country"]
        if pd.isna(country):
            country_match = np.full(len(rows), np.nan)
        else:
            code = self._countries.get_indexer([country])[0]
            inf = self._country_codes[rows]
            country_match = np.where(inf < 0, np.nan, (inf == code).astype(np.float64))
        as_of = to_ns([b["as_of"]])
        n = len(self._niches)
        per_niche = niche_features(
            ctx.niche_rates, np.asarray(self._niches, dtype=object), np.arange(n),
            np.array([b["category"]], dtype=object), np.zeros(n, np.int64), np.repeat(as_of, n),
            np.repeat(global_rate(ctx.collabs, as_of), n))
        codes = self._niche_codes[rows]
        out = {"country_match": country_match,
               "niche_match": per_niche["niche_match"][codes],
               "niche_category_rate": per_niche["niche_category_rate"][codes]}
        out.update(audience_pair_features(self._side, rows, brand, np.zeros(len(rows), np.int64),
                                          ctx.audience_average))
        return out

    def scores(self, rows: np.ndarray, brand: pd.DataFrame) -> np.ndarray:
        """Surrogate logit (up to a per-brief constant) of catalogue `rows` for `brand`."""
        pair = self.pair_values(rows, brand)
        s = self.base[rows]
        for spec in self.pair_specs:
            s = s + np.asarray(spec["weights"])[bin_index(spec, pair[spec["name"]])]
        return s

    def top(self, rows: np.ndarray, brand: pd.DataFrame, k: int) -> np.ndarray:
        """The `k` rows of `rows` (in no particular order) the surrogate rates highest."""
        if len(rows) <= k:
            return rows
        s = self.scores(rows, brand)
        return rows[np.argpartition(-s, k - 1)[:k]]
