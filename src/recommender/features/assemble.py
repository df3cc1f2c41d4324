"""Features of (brand, influencer, as_of) pairs: the influencer side, the brand side, the pair.

One path for training, ranking and batch scoring: `build_features` = `influencer_features`
+ `brand_profiles` + `pair_features`; the ranker calls the same three pieces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from recommender.contract import DIMENSIONS, SHARE_SUM_TOLERANCE
from recommender.features.audience import (
    AUDIENCE_PREFIX,
    INFLUENCER_AUDIENCE_FEATURES,
    PAIR_AUDIENCE_FEATURES,
    TARGET_PREFIX,
    audience_pair_features,
    catalogue_average,
    influencer_audience_features,
    shares_wide,
)
from recommender.features.engagement import (
    ENGAGEMENT_FEATURES,
    PostHistory,
    engagement_features,
    post_history,
)
from recommender.features.history import (
    BRAND_HISTORY_FEATURES,
    INFLUENCER_HISTORY_FEATURES,
    PAIR_HISTORY_FEATURES,
    CollabHistory,
    brand_history_features,
    collab_history,
    collaboration_arrays,
    global_rate,
    influencer_history_features,
    pair_history_features,
)
from recommender.features.niche import (
    NICHE_FEATURES,
    NicheCategoryRates,
    niche_category_rates,
    niche_features,
)
from recommender.features.price import PRICE_FEATURES, price_features
from recommender.features.timeline import encode, from_ns, same_value, to_ns

logger = logging.getLogger(__name__)

KEYS = ["brand_id", "influencer_id", "as_of"]
CATEGORICAL_FEATURES = ["platform", "niche", "category"]
INFLUENCER_FEATURES = (["platform", "niche"] + ENGAGEMENT_FEATURES + INFLUENCER_AUDIENCE_FEATURES
                       + PRICE_FEATURES + INFLUENCER_HISTORY_FEATURES)
BRAND_FEATURES = ["category"] + BRAND_HISTORY_FEATURES
PAIR_FEATURES = (["country_match"] + NICHE_FEATURES + PAIR_AUDIENCE_FEATURES
                 + PAIR_HISTORY_FEATURES)
FEATURE_COLUMNS: list[str] = INFLUENCER_FEATURES + BRAND_FEATURES + PAIR_FEATURES
# Features whose direction is domain knowledge, not fitted: the better the audience and niche
# fit, the more real followers, engagement and earlier conversions, the likelier a booking
# converts, other things equal (the model's monotone constraints, model.md).
MONOTONE_INCREASING: list[str] = [
    "er_mean_30d", "er_mean_90d", "er_mean_365d", "er_mean_all", "er_median_90d",
    "er_median_365d", "er_median_all", "real_follower_share", "inf_conversion_rate",
    "inf_conversions_per_collab", "brand_conversion_rate", "niche_match", "niche_category_rate",
    *PAIR_AUDIENCE_FEATURES, "pair_conversion_rate",
]
INLINE_BRAND_ID = "__inline__"


@dataclass(frozen=True)
class PairContext:
    """What pair features read besides the two sides, built once per dataset."""

    collabs: CollabHistory
    niche_rates: NicheCategoryRates
    audience: pd.DataFrame  # aud:<dim>:<segment> shares, one row per ds.influencers row
    audience_average: pd.Series  # catalogue average of each aud: column
    targets: pd.DataFrame  # tgt:<dim>:<segment> shares, one row per ds.brands row
    outcome_lag_days: float = 0.0  # an outcome without settled_at counts this long after start
    # optional cache (see with_post_history): the post history of exactly the frame `posts_of`
    posts: PostHistory | None = field(default=None, repr=False, compare=False)
    posts_of: pd.DataFrame | None = field(default=None, repr=False, compare=False)


def pair_context(ds, outcome_lag_days: float | None = None) -> PairContext:
    """Index collaborations and audiences of `ds` for as-of lookups; an outcome counts once
    settled (settled_at, else started_at + `outcome_lag_days`, default
    config.DEFAULT_OUTCOME_LAG_DAYS)."""
    from recommender.config import DEFAULT_OUTCOME_LAG_DAYS

    lag = DEFAULT_OUTCOME_LAG_DAYS if outcome_lag_days is None else float(outcome_lag_days)
    audience = shares_wide(ds.audience, "influencer_id", ds.influencers["influencer_id"],
                           AUDIENCE_PREFIX)
    collabs = collaboration_arrays(ds, lag)
    return PairContext(outcome_lag_days=lag,
        collabs=collab_history(ds, collabs), niche_rates=niche_category_rates(ds, collabs),
        audience=audience,
        audience_average=catalogue_average(audience),
        targets=shares_wide(ds.brand_audience, "brand_id", ds.brands["brand_id"], TARGET_PREFIX),
    )


def with_post_history(context: PairContext, ds) -> PairContext:
    """`context` carrying the sorted post history of `ds.posts`, so that repeated
    `influencer_features` calls on the same data (batch scoring, chunk by chunk) sort the
    posts once instead of once per call."""
    return replace(context, posts=post_history(ds.posts, ds.influencers), posts_of=ds.posts)


def _post_history(ds, ctx: PairContext) -> PostHistory:
    if ctx.posts is not None and ctx.posts_of is ds.posts:
        return ctx.posts
    return post_history(ds.posts, ds.influencers)


def _codes(index: pd.Index, ids: pd.Series, what: str) -> np.ndarray:
    codes = encode(ids, index)
    if (codes < 0).any():
        unknown = pd.Series(ids)[codes < 0].astype(str).unique()[:5]
        raise ValueError(f"{what} not in the data: {', '.join(unknown)}")
    return codes


def influencer_features(ds, keys: pd.DataFrame, context: PairContext | None = None) -> pd.DataFrame:
    """Influencer-side features for each (influencer_id, as_of) row of `keys`, in order.

    Columns: influencer_id, as_of, influencer_country, INFLUENCER_FEATURES, then the
    audience shares aud:<dimension>:<segment> that pair features compare with targets.
    """
    ctx = context or pair_context(ds)
    codes = _codes(ctx.collabs.influencer_index, keys["influencer_id"], "influencer_id")
    as_of = to_ns(keys["as_of"])
    inf = ds.influencers
    followers = inf["followers"].to_numpy(np.float64)[codes]
    eng = engagement_features(_post_history(ds, ctx), codes, as_of, followers)
    feats = dict(eng)
    feats.update(influencer_audience_features(
        inf["real_follower_share"].to_numpy(np.float64)[codes], eng["followers_as_of"],
        eng["er_mean_365d"]))
    feats.update(price_features(inf["price_per_post"].to_numpy(np.float64)[codes],
                                eng["followers_as_of"], eng["mean_interactions_365d"]))
    feats.update(influencer_history_features(ctx.collabs, codes, as_of,
                                             global_rate(ctx.collabs, as_of)))
    out = pd.DataFrame({
        "influencer_id": keys["influencer_id"].to_numpy(),
        "as_of": from_ns(as_of),
        "influencer_country": inf["country"].take(codes).to_numpy(),
        "platform": inf["platform"].take(codes).to_numpy(),
        "niche": inf["niche"].take(codes).to_numpy(),
    })
    numeric = pd.DataFrame({c: feats[c] for c in INFLUENCER_FEATURES[2:]})
    audience = ctx.audience.take(codes).reset_index(drop=True)
    return pd.concat([out, numeric, audience], axis=1)


def brand_profiles(ds, keys: pd.DataFrame, context: PairContext | None = None) -> pd.DataFrame:
    """Brand-side profile for each (brand_id, as_of) row of `keys`, in order.

    Columns: brand_id, as_of, category, brand_country, BRAND_HISTORY_FEATURES, then the
    target shares tgt:<dimension>:<segment>.
    """
    ctx = context or pair_context(ds)
    codes = _codes(ctx.collabs.brand_index, keys["brand_id"], "brand_id")
    as_of = to_ns(keys["as_of"])
    hist = brand_history_features(ctx.collabs, codes, as_of, global_rate(ctx.collabs, as_of))
    out = pd.DataFrame({
        "brand_id": keys["brand_id"].to_numpy(),
        "as_of": from_ns(as_of),
        "category": ds.brands["category"].take(codes).to_numpy(),
        "brand_country": ds.brands["country"].take(codes).to_numpy(),
        **hist,
    })
    return pd.concat([out, ctx.targets.take(codes).reset_index(drop=True)], axis=1)


def inline_brand_profile(
    category: str,
    country: str | None = None,
    target_shares: dict[str, dict[str, float]] | None = None,
    *,
    as_of: pd.Timestamp | str,
    context: PairContext | None = None,
    brand_id: str = INLINE_BRAND_ID,
) -> pd.DataFrame:
    """A one-row brand profile for a brand described inline (not in the data).

    `target_shares` maps a dimension (age, gender, country) to {segment: share}. The brand
    has no track record: count 0 and the global rate as of (NaN without a context).
    """
    category = str(category).strip().lower()
    if not category:
        raise ValueError("category: a value is required")
    country = str(country).strip().upper() if country not in (None, "") else None
    row: dict[str, object] = {
        "brand_id": brand_id, "as_of": pd.Timestamp(as_of).tz_convert("UTC")
        if pd.Timestamp(as_of).tzinfo else pd.Timestamp(as_of, tz="UTC"),
        "category": category, "brand_country": country,
    }
    as_ns = to_ns([row["as_of"]])
    if context is not None:
        hist = brand_history_features(context.collabs, np.array([-1]), as_ns,
                                      global_rate(context.collabs, as_ns))
    else:
        hist = {name: np.array([np.nan]) for name in BRAND_HISTORY_FEATURES}
    row.update({k: float(v[0]) for k, v in hist.items()})
    row.update(_target_columns(target_shares or {}))
    out = pd.DataFrame([row])
    out["as_of"] = out["as_of"].dt.as_unit("ns")
    for col in ("brand_id", "category", "brand_country"):
        out[col] = out[col].astype("str")
    return out


def _target_columns(target_shares: dict[str, dict[str, float]]) -> dict[str, float]:
    cols: dict[str, float] = {}
    for dim, shares in target_shares.items():
        d = str(dim).strip().lower()
        if d not in DIMENSIONS:
            raise ValueError(f"target dimension {dim!r}: must be one of {', '.join(DIMENSIONS)}")
        total = 0.0
        for seg, share in shares.items():
            s = str(seg).strip()
            s = s.upper() if d == "country" else s.lower()
            value = float(share)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"target share {d}:{s} = {share!r}: must lie in [0, 1]")
            total += value
            cols[f"{TARGET_PREFIX}{d}:{s}"] = value
        if total > 1.0 + SHARE_SUM_TOLERANCE:
            raise ValueError(f"target shares of {d} add up to {total:g}: at most 1")
    return cols


def _align(side: pd.DataFrame, id_col: str, pairs: pd.DataFrame, as_of: np.ndarray) -> np.ndarray:
    """Row of `side` matching each pair's (id, as_of); ValueError if one is missing."""
    side_ids = side[id_col].reset_index(drop=True)
    pair_ids = pairs[id_col].reset_index(drop=True)
    side_t = to_ns(side["as_of"])
    if len(side) == 1:
        rows = np.zeros(len(pairs), np.int64)
        ok = (pair_ids == side_ids.iloc[0]).to_numpy(dtype=bool, na_value=False) & (
            as_of == side_t[0])
    elif len(side) == len(pairs) and np.array_equal(side_t, as_of) and bool(
            (side_ids == pair_ids).all()):
        return np.arange(len(pairs), dtype=np.int64)
    else:
        index = pd.MultiIndex.from_arrays([side_ids.to_numpy(), side_t])
        rows = index.get_indexer(pd.MultiIndex.from_arrays([pair_ids.to_numpy(), as_of]))
        ok = rows >= 0
    if not np.all(ok):
        raise ValueError(f"{int((~ok).sum())} pairs have no {id_col} row with their as_of "
                         f"in the side frame (first: {pair_ids[~ok].iloc[0]})")
    return rows


def pair_features(
    influencer_side: pd.DataFrame, brand_side: pd.DataFrame, ds_or_context,
    pairs: pd.DataFrame,
) -> pd.DataFrame:
    """Keys of `pairs` + FEATURE_COLUMNS, joining both sides on (id, as_of) and adding
    the pair features (audience match and lift, niche fit, country match, pair history)."""
    ctx = ds_or_context if isinstance(ds_or_context, PairContext) else pair_context(
        ds_or_context)
    as_of = to_ns(pairs["as_of"])
    return _pair_frame(influencer_side, _align(influencer_side, "influencer_id", pairs, as_of),
                       brand_side, _align(brand_side, "brand_id", pairs, as_of),
                       ctx, pairs, as_of)


def _gather(frame: pd.DataFrame, col: str, rows: np.ndarray) -> object:
    """Column `col` of `frame` at `rows`, keeping its dtype (strings stay strings)."""
    s = frame[col]
    if isinstance(s.dtype, np.dtype):
        return s.to_numpy()[rows]
    return s.array.take(rows)


def _pair_frame(inf_side: pd.DataFrame, inf_rows: np.ndarray, brand_side: pd.DataFrame,
                brand_rows: np.ndarray, ctx: PairContext, pairs: pd.DataFrame,
                as_of: np.ndarray) -> pd.DataFrame:
    brand_codes = ctx.collabs.brand_index.get_indexer(brand_side["brand_id"])[brand_rows]
    if (brand_codes >= 0).any():  # a brand described inline has no pair history to look up
        inf_codes = ctx.collabs.influencer_index.get_indexer(inf_side["influencer_id"])[inf_rows]
    else:
        inf_codes = np.full(len(inf_rows), -1, dtype=np.int64)
    prior = global_rate(ctx.collabs, as_of)
    pair = {"country_match": same_value(inf_side["influencer_country"], inf_rows,
                                        brand_side["brand_country"], brand_rows)}
    pair.update(niche_features(ctx.niche_rates, inf_side["niche"], inf_rows,
                               brand_side["category"], brand_rows, as_of, prior))
    pair.update(audience_pair_features(inf_side, inf_rows, brand_side, brand_rows,
                                       ctx.audience_average))
    pair.update(pair_history_features(ctx.collabs, inf_codes, brand_codes, as_of, prior))
    cols: dict[str, object] = {
        "brand_id": pairs["brand_id"].array, "influencer_id": pairs["influencer_id"].array,
        "as_of": from_ns(as_of),
    }
    for c in INFLUENCER_FEATURES:
        cols[c] = _gather(inf_side, c, inf_rows)
    for c in BRAND_FEATURES:
        cols[c] = _gather(brand_side, c, brand_rows)
    cols.update({c: pair[c] for c in PAIR_FEATURES})
    return pd.DataFrame(cols, copy=False)


def _unique_keys(codes: np.ndarray, as_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First occurrence of each distinct (code, as_of), and each row's index among them."""
    if not len(codes):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if as_of.min() == as_of.max():  # one instant: distinct codes, without a sort
        first = np.full(codes.max() + 1, len(codes), dtype=np.int64)
        np.minimum.at(first, codes, np.arange(len(codes)))
        distinct = np.flatnonzero(first < len(codes))
        rank = np.zeros(len(first), dtype=np.int64)
        rank[distinct] = np.arange(len(distinct))
        return first[distinct], rank[codes]
    order = np.lexsort((as_of, codes))
    c, t = codes[order], as_of[order]
    new = np.concatenate([[True], (np.diff(c) != 0) | (np.diff(t) != 0)])
    group = np.cumsum(new) - 1
    inverse = np.empty(len(codes), np.int64)
    inverse[order] = group
    return order[new], inverse


def build_features(ds, pairs: pd.DataFrame, context: PairContext | None = None) -> pd.DataFrame:
    """brand_id, influencer_id, as_of + FEATURE_COLUMNS for each pair, in input order.

    The one feature function of training, batch scoring and export. A missing as_of (NaT or
    absent column) means the data's latest timestamp; every feature uses only rows strictly
    before its pair's as_of.
    """
    ctx = context or pair_context(ds)
    pairs = pairs.reset_index(drop=True)
    if "as_of" not in pairs or pairs["as_of"].isna().any():
        latest = ds.latest_timestamp
        base = pairs["as_of"] if "as_of" in pairs else pd.Series(pd.NaT, index=pairs.index)
        pairs = pairs.assign(as_of=pd.to_datetime(base, utc=True).fillna(latest))
    as_of = to_ns(pairs["as_of"])
    inf_codes = _codes(ctx.collabs.influencer_index, pairs["influencer_id"], "influencer_id")
    brand_codes = _codes(ctx.collabs.brand_index, pairs["brand_id"], "brand_id")
    first_i, inf_rows = _unique_keys(inf_codes, as_of)
    first_b, brand_rows = _unique_keys(brand_codes, as_of)
    logger.info("features for %d pairs (%d influencer keys, %d brand keys)",
                len(pairs), len(first_i), len(first_b))
    inf_side = influencer_features(ds, pairs.iloc[first_i][["influencer_id", "as_of"]], ctx)
    brand_side = brand_profiles(ds, pairs.iloc[first_b][["brand_id", "as_of"]], ctx)
    return _pair_frame(inf_side, inf_rows, brand_side, brand_rows, ctx, pairs, as_of)
