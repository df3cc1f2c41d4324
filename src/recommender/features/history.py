"""Collaboration track records as of an instant: influencer, brand and pair, from earlier starts.

A collaboration counts as known history from its `started_at` on: its outcome (conversions)
is treated as available to every later as_of. The contract gives no outcome date, so this is
the stated assumption; the collaboration itself (started exactly at as_of) is never counted.
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
    """Collaborations grouped by one key, sorted by start, with running outcome counts."""

    timeline: Timeline
    converted: np.ndarray  # exclusive running count of converted collaborations
    conversions: np.ndarray  # exclusive running sum of conversions

    @classmethod
    def build(cls, codes: np.ndarray, times: np.ndarray, n_groups: int,
              converted: np.ndarray, conversions: np.ndarray) -> _Track:
        tl = Timeline.build(codes, times, n_groups)
        return cls(tl, int_cumsum(tl.take(converted)), int_cumsum(tl.take(conversions)))

    def record(self, codes: np.ndarray, as_of_ns: np.ndarray) -> tuple[np.ndarray, ...]:
        """(collaborations, converted, conversions, last start) strictly before as_of."""
        start, end = self.timeline.before(codes, as_of_ns)
        times = self.timeline.times
        last = np.where(end > start, times[np.maximum(end - 1, 0)] if len(times) else 0, -1)
        return (end - start, self.converted[end] - self.converted[start],
                self.conversions[end] - self.conversions[start], last)


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
    `ds.influencers` / `ds.brands`), start times (ns) and conversions."""

    influencer: np.ndarray
    brand: np.ndarray
    times: np.ndarray
    conversions: np.ndarray

    @property
    def converted(self) -> np.ndarray:
        return (self.conversions >= 1).astype(np.int64)


def collaboration_arrays(ds) -> Collaborations:
    """`ds.collaborations` as codes; ValueError if one names an unknown influencer or brand."""
    c = ds.collaborations
    inf = encode(c["influencer_id"], pd.Index(ds.influencers["influencer_id"]))
    brand = encode(c["brand_id"], pd.Index(ds.brands["brand_id"]))
    if (inf < 0).any() or (brand < 0).any():
        raise ValueError("collaborations name an influencer or brand that is not in the data")
    times = to_ns(c["started_at"]) if len(c) else np.zeros(0, np.int64)
    conversions = c["conversions"].to_numpy(dtype=np.int64) if len(c) else np.zeros(0, np.int64)
    return Collaborations(inf, brand, times, conversions)


def collab_history(ds, collabs: Collaborations) -> CollabHistory:
    """Index the collaborations of `ds` by influencer, brand, pair and overall."""
    inf_index = pd.Index(ds.influencers["influencer_id"])
    brand_index = pd.Index(ds.brands["brand_id"])
    inf, brand, times = collabs.influencer, collabs.brand, collabs.times
    conversions, converted = collabs.conversions, collabs.converted
    pair = brand * len(inf_index) + inf
    pair_codes = np.unique(pair)
    pair_group = np.searchsorted(pair_codes, pair)
    return CollabHistory(
        known=ds.has_table("collaborations"),
        influencer_index=inf_index, brand_index=brand_index,
        everyone=_Track.build(np.zeros(len(inf), np.int64), times, 1, converted, conversions),
        by_influencer=_Track.build(inf, times, len(inf_index), converted, conversions),
        by_brand=_Track.build(brand, times, len(brand_index), converted, conversions),
        by_pair=_Track.build(pair_group, times, len(pair_codes), converted, conversions),
        pair_codes=pair_codes,
    )


def _unknown(n: int, names: list[str]) -> dict[str, np.ndarray]:
    return {name: np.full(n, np.nan) for name in names}


def global_rate(h: CollabHistory, as_of_ns: np.ndarray) -> np.ndarray:
    """Share of all collaborations started before as_of that converted (NaN if none)."""
    if not h.known:
        return np.full(len(as_of_ns), np.nan)
    n = np.searchsorted(h.everyone.timeline.times, as_of_ns, side="left")  # one sorted group
    return safe_div(h.everyone.converted[n], n)


def influencer_history_features(
    h: CollabHistory, inf_codes: np.ndarray, as_of_ns: np.ndarray, prior: np.ndarray
) -> dict[str, np.ndarray]:
    """The influencer's collaborations before as_of: count, shrunk rate, conversions, recency."""
    if not h.known:
        return _unknown(len(inf_codes), INFLUENCER_HISTORY_FEATURES)
    n, conv, conversions, last = h.by_influencer.record(inf_codes, as_of_ns)
    return {
        "inf_collab_count": n.astype(np.float64),
        "inf_conversion_rate": shrunk_rate(conv, n, prior, PRIOR_COLLABORATIONS),
        "inf_conversions_per_collab": safe_div(conversions, n),
        "days_since_last_collab": np.where(last >= 0, (as_of_ns - last) / DAY_NS, np.nan),
    }


def brand_history_features(
    h: CollabHistory, brand_codes: np.ndarray, as_of_ns: np.ndarray, prior: np.ndarray
) -> dict[str, np.ndarray]:
    """The brand's collaborations before as_of (code -1: a brand not in the data, no record)."""
    if not h.known:
        return _unknown(len(brand_codes), BRAND_HISTORY_FEATURES)
    n, conv, _, _ = h.by_brand.record(brand_codes, as_of_ns)
    return {"brand_collab_count": n.astype(np.float64),
            "brand_conversion_rate": shrunk_rate(conv, n, prior, PRIOR_COLLABORATIONS)}


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
    n, conv, _, _ = h.by_pair.record(np.where(found, pos, -1), as_of_ns)
    return {"pair_collab_count": n.astype(np.float64),
            "pair_conversion_rate": shrunk_rate(conv, n, prior, PRIOR_COLLABORATIONS)}
