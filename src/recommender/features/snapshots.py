"""Which features read undated attribute snapshots (influencers' followers, price, real-follower
share and country; the audience tables), said once per data folder.

The contract's influencer and audience rows carry no date in version 1: today's values then
stand for every past as_of in training, backtests and batch scoring, which can encode later
success (a price raised after a good year). Influencers with `valid_from` (version 2) are read
as of (`features.attributes`); otherwise, and always for the audience tables (whose
`valid_from` is not read yet), the features built on them are named once, so that a user
knows which ones to distrust.
"""

from __future__ import annotations

import logging

from recommender.features.audience import INFLUENCER_AUDIENCE_FEATURES, PAIR_AUDIENCE_FEATURES
from recommender.features.price import PRICE_FEATURES

logger = logging.getLogger(__name__)

# (table, column) -> the features computed from it
SNAPSHOT_SOURCES: dict[tuple[str, str], list[str]] = {
    ("influencers", "followers"): ["followers_as_of (where posts lack followers_at_post)",
                                   *PRICE_FEATURES, "effective_reach"],
    ("influencers", "price_per_post"): PRICE_FEATURES,
    ("influencers", "real_follower_share"): INFLUENCER_AUDIENCE_FEATURES,
    ("influencers", "country"): ["country_match"],
    ("audience", "share"): ["effective_reach", *PAIR_AUDIENCE_FEATURES],
}
_said: set[str] = set()


def undated_snapshot_features(ds) -> dict[str, list[str]]:
    """'table.column' -> features, for each undated snapshot column the data holds."""
    out = {}
    for (table, column), features in SNAPSHOT_SOURCES.items():
        dated = table == "influencers" and getattr(ds, "influencer_history", None) is not None
        if not ds.has_column(table, column) or dated:  # audience rows are never dated yet
            continue
        if table == "influencers" and column == "followers" and ds.has_column(
                "posts", "followers_at_post") and ds.posts["followers_at_post"].notna().all():
            features = [f for f in features if not f.startswith("followers_as_of")]
        out[f"{table}.{column}"] = features
    return out


def say_undated_once(ds) -> None:
    """Log (once per data source) which features use undated snapshot attributes."""
    key = str(getattr(ds, "source", None))
    if key in _said:
        return
    _said.add(key)
    undated = undated_snapshot_features(ds)
    if undated:
        logger.warning(
            "%s: these attributes have no valid_from, so today's value stands for every past "
            "as_of: %s", key if key != "None" else "the data",
            "; ".join(f"{src} -> {', '.join(dict.fromkeys(f))}" for src, f in undated.items()))
