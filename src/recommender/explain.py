"""Reasons in words: the strongest per-feature contributions to a pair's score, as short phrases.

Contributions are LightGBM's per-feature contributions (SHAP values, in log-odds of the
uncalibrated model). Brand-only features (category, the brand's own track record) are left
out: they shift every candidate of a brief alike and say nothing about the influencer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from recommender.features import BRAND_FEATURES

N_REASONS = 3


def _pct(v: float) -> str:
    return f"{v:.0%}"


def _rate(v: float) -> str:
    return f"{v:.1%}"


def _count(v: float) -> str:
    return f"{v:,.0f}"


def _times(v: float) -> str:
    return f"{v:.2f}x"


def _days(v: float) -> str:
    return f"{v:,.0f} days"


def _usd(v: float) -> str:
    return f"${v:,.4f}" if v < 1 else f"${v:,.2f}"


# feature -> (phrase when it raises the score, phrase when it lowers it, value format)
PHRASES: dict[str, tuple[str, str, Callable[[float], str]]] = {
    "n_posts": ("long posting history ({v} posts)", "short posting history ({v} posts)", _count),
    "er_trend": ("engagement trending up ({v} the prior level)",
                 "engagement trending down ({v} the prior level)", _times),
    "er_volatility_365d": ("steady engagement (variation {v})",
                           "erratic engagement (variation {v})", lambda v: f"{v:.2f}"),
    "views_er_90d": ("strong engagement per view ({v})", "weak engagement per view ({v})", _rate),
    "posts_per_week_90d": ("posting rhythm of {v} a week", "posting rhythm of only {v} a week",
                           lambda v: f"{v:.1f}"),
    "days_since_last_post": ("posted recently ({v} ago)", "no post for {v}", _days),
    "followers_as_of": ("audience size suits ({v} followers)",
                        "audience size counts against ({v} followers)", _count),
    "follower_growth_90d": ("followers growing ({v} in 90 days)",
                            "followers stalling ({v} in 90 days)", lambda v: f"{v:+.1%}"),
    "sponsored_er_ratio": ("sponsored posts engage like organic ones ({v})",
                           "sponsored posts engage less than organic ones ({v})", _times),
    "sponsored_share_90d": ("few sponsored posts lately ({v})",
                            "many sponsored posts lately ({v})", _pct),
    "sponsored_share_365d": ("sponsored share of posts suits ({v} over a year)",
                             "sponsored share of posts counts against ({v} over a year)", _pct),
    "real_follower_share": ("real followers ({v})", "doubtful followers (only {v} real)", _pct),
    "effective_reach": ("large engaged reach ({v} people)", "small engaged reach ({v} people)",
                        _count),
    "price_per_follower": ("price per follower suits ({v})",
                           "price per follower counts against ({v})", _usd),
    "cost_per_engagement": ("affordable per engagement ({v})",
                            "costly per engagement ({v})", _usd),
    "inf_collab_count": ("experienced with brands ({v} past collaborations)",
                         "few past collaborations ({v})", _count),
    "inf_conversion_rate": ("past collaborations converted ({v})",
                            "past collaborations converted poorly ({v})", _pct),
    "inf_conversions_per_collab": ("{v} conversions per past collaboration",
                                   "only {v} conversions per past collaboration",
                                   lambda v: f"{v:.1f}"),
    "days_since_last_collab": ("last collaboration timing suits ({v} ago)",
                               "last collaboration timing counts against ({v} ago)", _days),
    "niche_category_rate": ("{niche} creators convert well for {category} brands ({v})",
                            "{niche} creators convert poorly for {category} brands ({v})", _pct),
    "audience_match_mean": ("audience matches the target overall ({v})",
                            "audience matches the target weakly overall ({v})", _pct),
    "pair_collab_count": ("worked with this brand before ({v} times)",
                          "earlier work with this brand counts against ({v} times)", _count),
    "pair_conversion_rate": ("earlier work with this brand converted ({v})",
                             "earlier work with this brand converted poorly ({v})", _pct),
}
for _window in ("30d", "90d", "365d", "all"):
    _span = "overall" if _window == "all" else f"over {_window[:-1]} days"
    for _stat in ("mean", "median"):
        PHRASES[f"er_{_stat}_{_window}"] = (f"high engagement rate {_span} ({{v}})",
                                             f"low engagement rate {_span} ({{v}})", _rate)
for _dim in ("age", "gender", "country"):
    PHRASES[f"audience_match_{_dim}"] = (f"audience {_dim} matches the target ({{v}})",
                                         f"audience {_dim} matches the target weakly ({{v}})",
                                         _pct)
    PHRASES[f"target_lift_{_dim}"] = (
        f"reaches the target {_dim} group at {{v}} the catalogue average",
        f"reaches the target {_dim} group at only {{v}} the catalogue average", _times)

# binary pair features: (phrase when they hold, when they do not)
BINARY = {
    "niche_match": ("{niche} niche is the brand's category",
                    "{niche} niche differs from the brand's category ({category})"),
    "country_match": ("based in the brand's country", "based outside the brand's country"),
}

# rates shrunk toward the global rate: (the count they rest on, what zero of it means)
NO_RECORD = {
    "pair_conversion_rate": ("pair_collab_count", "no earlier work with this brand"),
    "inf_conversion_rate": ("inf_collab_count", "no past collaborations"),
}


def phrase(feature: str, value: object, contribution: float, row: Mapping[str, object]) -> str:
    """One reason: what the feature's value is, and whether it raised or lowered the score."""
    up = contribution > 0
    niche, category = row.get("niche", "?"), row.get("category", "?")
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if feature == "platform":
        return f"{value} {'suits' if up else 'converts less for'} this brand"
    if feature == "niche":
        return f"{value} niche {'converts well' if up else 'converts less'} for this brand"
    if feature in BINARY and not missing:
        same = value == 1.0
        text = BINARY[feature][0 if same else 1].format(niche=niche, category=category)
        return text if same == up else f"{text} (counts {'for' if up else 'against'})"
    if missing:
        return f"{feature.replace('_', ' ')} unknown (counts {'for' if up else 'against'})"
    if feature in NO_RECORD and row.get(NO_RECORD[feature][0]) == 0:
        # a shrunk rate without any record is the prior: say so rather than quote it
        return f"{NO_RECORD[feature][1]} (counts {'for' if up else 'against'})"
    if feature in PHRASES:
        good, bad, fmt = PHRASES[feature]
        return (good if up else bad).format(v=fmt(float(value)), niche=niche, category=category)
    return f"{feature.replace('_', ' ')} = {value} (counts {'for' if up else 'against'})"


def _shared(v: np.ndarray) -> bool:
    """True when a feature cannot tell the rows apart: missing for all of them, or (with more
    than one row) the same value for all."""
    missing = pd.isna(v)
    if missing.all():
        return True
    return len(v) > 1 and not missing.any() and bool((v == v[0]).all())


def reasons(contributions: pd.DataFrame, features: pd.DataFrame | Mapping[str, np.ndarray],
            k: int = N_REASONS, rows: np.ndarray | None = None) -> list[list[str]]:
    """For each row, the `k` strongest contributions (by size, either sign) in words, among
    the features that tell the rows apart (a value missing for every row, or one they all
    share, is left out: "real follower share unknown" for every candidate explains nothing).

    `contributions` holds one column per feature (plus `bias`, ignored); `features` the
    feature values (a frame or column -> values) of the same rows in the same order, or,
    with `rows`, of more rows of which `rows` are those of the contributions.
    """
    names = [c for c in contributions.columns if c != "bias" and c not in BRAND_FEATURES]
    values = contributions[names].to_numpy(np.float64, copy=True)
    shared = [j for j, c in enumerate(names) if c in features
              and _shared(np.asarray(features[c]) if rows is None
                          else np.asarray(features[c])[rows])]
    values[:, shared] = 0.0  # says nothing about one candidate against the others
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    context = {"niche", "category", *(count for count, _ in NO_RECORD.values())}
    used = {names[j] for j in np.unique(order)} | (context & set(features))
    cols = {c: np.asarray(features[c]) for c in used}
    if rows is not None:
        cols = {c: v[rows] for c, v in cols.items()}
    out = []
    for i in range(len(values)):
        row = {c: v[i] for c, v in cols.items()}
        out.append([phrase(names[j], row[names[j]], values[i, j], row)
                    for j in order[i] if values[i, j] != 0.0])
    return out
