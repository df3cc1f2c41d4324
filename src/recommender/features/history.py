"""Collaboration track records as of an instant: influencer, brand and pair, from earlier starts.

A collaboration counts as having happened from its `started_at` on (counts, recency), but its
OUTCOME only once settled: at its `settled_at` where the data gives one (contract version 2),
else `outcome lag` days after `started_at` (config.DEFAULT_OUTCOME_LAG_DAYS unless the caller
says otherwise). Conversion rates are taken over settled collaborations only, so a recent
collaboration whose conversions are still coming in never reads as a non-conversion. The
collaboration itself (started exactly at as_of) is never counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.features.timeline import (
    DAY_NS,
    Timeline,
    encode,
    int_cumsum,
    safe_div,
    shrunk_rate,
    to_ns,
)

# Pseudo-collaborations at the global conversion rate added to a track record: with a handful
# of real outcomes the record still leans on the global rate; after ~20 it speaks for itself.
PRIOR_COLLABORATIONS = 5.0

INFLUENCER_HISTORY_FEATURES = [
    "inf_collab_count", "inf_conversion_rate", "inf_conversions_per_collab",
    "days_since_last_collab",
]
BRAND_HISTORY_FEATURES = ["brand_collab_count", "brand_conversion_rate"]
PAIR_HISTORY_FEATURES = ["pair_collab_count", "pair_conversion_rate"]


@dataclass(frozen=True)
class _Track:
    """Collaborations grouped by one key: sorted by start (counts, recency) and by the
    instant their outcome settled (running outcome counts)."""

    timeline: Timeline
    settled: Timeline
    converted: np.ndarray  # exclusive running count of converted settled collaborations
    conversions: np.ndarray  # exclusive running sum of settled conversions

    @classmethod
    def build(cls, codes: np.ndarray, collabs: Collaborations, n_groups: int) -> _Track:
        tl = Timeline.build(codes, collabs.times, n_groups)
        settled = Timeline.build(codes, collabs.settled, n_groups)
        return cls(tl, settled, int_cumsum(settled.take(collabs.converted)),
                   int_cumsum(settled.take(collabs.conversions)))

    def record(self, codes: np.ndarray, as_of_ns: np.ndarray) -> tuple[np.ndarray, ...]:
        """(collaborations, settled ones, converted, conversions, last start) before as_of."""
        start, end = self.timeline.before(codes, as_of_ns)
        times = self.timeline.times
        last = np.where(end > start, times[np.maximum(end - 1, 0)] if len(times) else 0, -1)
        s_start, s_end = self.settled.before(codes, as_of_ns)
        return (end - start, s_end - s_start, self.converted[s_end] - self.converted[s_start],
                self.conversions[s_end] - self.conversions[s_start], last)


@dataclass(frozen=True)
class CollabHistory:
    """Every collaboration lookup a feature needs, built once per dataset."""

    known: bool  # the collaborations table was present in the data
    influencer_index: pd.Index
    brand_index: pd.Index
    everyone: _Track
    by_influencer: _Track
    by_brand: _Track
    by_pair: _Track
    pair_codes: np.ndarray  # sorted unique brand_code * n_influencers + influencer_code


@dataclass(frozen=True)
class Collaborations:
    """The collaborations of a dataset as arrays: influencer and brand row codes (rows of
    `ds.influencers` / `ds.brands`), start times, settle times (ns) and conversions."""

    influencer: np.ndarray
    brand: np.ndarray
    times: np.ndarray
    conversions: np.ndarray
    settled: np.ndarray  # when the outcome counts as known: settled_at, else start + lag

    @property
    def converted(self) -> np.ndarray:
        return (self.conversions >= 1).astype(np.int64)


def settle_times(collaborations: pd.DataFrame, outcome_lag_days: float) -> np.ndarray:
    """When each collaboration's outcome counts as known (ns): its `settled_at` where given,
    else `started_at` + `outcome_lag_days`."""
    if not len(collaborations):
        return np.zeros(0, np.int64)
    if outcome_lag_days < 0:
        raise ValueError(f"the outcome lag must be >= 0 days, got {outcome_lag_days}")
    started = to_ns(collaborations["started_at"])
    default = started + int(round(outcome_lag_days * DAY_NS))
    if "settled_at" not in collaborations:
        return default
    given = pd.to_datetime(collaborations["settled_at"], utc=True)
    known = given.notna().to_numpy()
    settled = np.array(default)
    settled[known] = to_ns(given[known])
    return np.maximum(settled, started)


def collaboration_arrays(ds, outcome_lag_days: float | None = None) -> Collaborations:
    """`ds.collaborations` as codes; ValueError if one names an unknown influencer or brand.
    `outcome_lag_days` None: config.DEFAULT_OUTCOME_LAG_DAYS."""
    from recommender.config import DEFAULT_OUTCOME_LAG_DAYS

    lag = DEFAULT_OUTCOME_LAG_DAYS if outcome_lag_days is None else outcome_lag_days
    c = ds.collaborations
    inf = encode(c["influencer_id"], pd.Index(ds.influencers["influencer_id"]))
    brand = encode(c["brand_id"], pd.Index(ds.brands["brand_id"]))
    if (inf < 0).any() or (brand < 0).any():
        raise ValueError("collaborations name an influencer or brand that is not in the data")
    times = to_ns(c["started_at"]) if len(c) else np.zeros(0, np.int64)
    conversions = c["conversions"].to_numpy(dtype=np.int64) if len(c) else np.zeros(0, np.int64)
    return Collaborations(inf, brand, times, conversions, settle_times(c, lag))


def collab_history(ds, collabs: Collaborations) -> CollabHistory:
    """Index the collaborations of `ds` by influencer, brand, pair and overall."""
    inf_index = pd.Index(ds.influencers["influencer_id"])
    brand_index = pd.Index(ds.brands["brand_id"])
    inf, brand = collabs.influencer, collabs.brand
    pair = brand * len(inf_index) + inf
    pair_codes = np.unique(pair)
    pair_group = np.searchsorted(pair_codes, pair)
    return CollabHistory(
        known=ds.has_table("collaborations"),
        influencer_index=inf_index, brand_index=brand_index,
        everyone=_Track.build(np.zeros(len(inf), np.int64), collabs, 1),
        by_influencer=_Track.build(inf, collabs, len(inf_index)),
        by_brand=_Track.build(brand, collabs, len(brand_index)),
        by_pair=_Track.build(pair_group, collabs, len(pair_codes)),
        pair_codes=pair_codes,
    )


def _unknown(n: int, names: list[str]) -> dict[str, np.ndarray]:
    return {name: np.full(n, np.nan) for name in names}


def global_rate(h: CollabHistory, as_of_ns: np.ndarray) -> np.ndarray:
    """Share of all collaborations settled before as_of that converted (NaN if none)."""
    if not h.known:
        return np.full(len(as_of_ns), np.nan)
    n = np.searchsorted(h.everyone.settled.times, as_of_ns, side="left")  # one sorted group
    return safe_div(h.everyone.converted[n], n)


def influencer_history_features(
    h: CollabHistory, inf_codes: np.ndarray, as_of_ns: np.ndarray, prior: np.ndarray
) -> dict[str, np.ndarray]:
    """The influencer's collaborations before as_of: count, recency and, over the settled
    ones, shrunk conversion rate and conversions per collaboration."""
    if not h.known:
        return _unknown(len(inf_codes), INFLUENCER_HISTORY_FEATURES)
    n, settled, conv, conversions, last = h.by_influencer.record(inf_codes, as_of_ns)
    return {
        "inf_collab_count": n.astype(np.float64),
        "inf_conversion_rate": shrunk_rate(conv, settled, prior, PRIOR_COLLABORATIONS),
        "inf_conversions_per_collab": safe_div(conversions, settled),
        "days_since_last_collab": np.where(last >= 0, (as_of_ns - last) / DAY_NS, np.nan),
    }


def brand_history_features(
    h: CollabHistory, brand_codes: np.ndarray, as_of_ns: np.ndarray, prior: np.ndarray
) -> dict[str, np.ndarray]:
    """The brand's collaborations before as_of (code -1: a brand not in the data, no record)."""
    if not h.known:
        return _unknown(len(brand_codes), BRAND_HISTORY_FEATURES)
    n, settled, conv, _, _ = h.by_brand.record(brand_codes, as_of_ns)
    return {"brand_collab_count": n.astype(np.float64),
            "brand_conversion_rate": shrunk_rate(conv, settled, prior, PRIOR_COLLABORATIONS)}


def pair_history_features(
    h: CollabHistory, inf_codes: np.ndarray, brand_codes: np.ndarray,
    as_of_ns: np.ndarray, prior: np.ndarray,
) -> dict[str, np.ndarray]:
    """This brand's earlier collaborations with this influencer, before as_of."""
    if not h.known:
        return _unknown(len(inf_codes), PAIR_HISTORY_FEATURES)
    q = np.where((brand_codes >= 0) & (inf_codes >= 0),
                 brand_codes * len(h.influencer_index) + inf_codes, -1)
    pos = np.searchsorted(h.pair_codes, q)
    found = (pos < len(h.pair_codes)) & (h.pair_codes[np.minimum(pos, len(h.pair_codes) - 1)]
                                         == q) if len(h.pair_codes) else np.zeros(len(q), bool)
    n, settled, conv, _, _ = h.by_pair.record(np.where(found, pos, -1), as_of_ns)
    return {"pair_collab_count": n.astype(np.float64),
            "pair_conversion_rate": shrunk_rate(conv, settled, prior, PRIOR_COLLABORATIONS)}
