"""Engagement-history features of an influencer as of an instant, from posts strictly before it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.features.timeline import DAY_NS, Timeline, int_cumsum, safe_div, to_ns

logger = logging.getLogger(__name__)

WINDOWS_DAYS = (30, 90, 365)
# Window medians are taken over at most this many of the window's most recent posts: exact
# whenever the window holds fewer posts, and a fixed-width (vectorisable) gather otherwise.
MEDIAN_MAX_POSTS = 64
MEDIAN_CHUNK = 65_536  # queries per gather, bounds memory at CHUNK x MAX_POSTS floats

ENGAGEMENT_FEATURES = [
    "n_posts",
    "er_mean_30d", "er_mean_90d", "er_mean_365d", "er_mean_all",
    "er_median_90d", "er_median_365d", "er_median_all",
    "er_trend", "er_volatility_365d", "views_er_90d",
    "posts_per_week_90d", "days_since_last_post",
    "followers_as_of", "follower_growth_90d",
    "sponsored_er_ratio", "sponsored_share_90d", "sponsored_share_365d",
]


@dataclass(frozen=True)
class PostHistory:
    """Per-post engagement values in (influencer, time) order, with their running sums."""

    timeline: Timeline
    er: np.ndarray  # (likes + comments) / followers_at_post (else followers); NaN if unknown
    followers_at_post: np.ndarray
    cs_er: np.ndarray
    cs_er2: np.ndarray
    cs_er_sponsored: np.ndarray
    cs_views_er: np.ndarray
    n_er: np.ndarray  # exclusive integer running counts
    n_er_sponsored: np.ndarray
    n_views_er: np.ndarray
    n_sponsored: np.ndarray
    n_interactions: np.ndarray  # exclusive running sum of likes + comments (integers)


def post_history(posts: pd.DataFrame, influencers: pd.DataFrame) -> PostHistory:
    """Sort posts per influencer and precompute the running sums every window reads."""
    inf_index = pd.Index(influencers["influencer_id"])
    codes, uniques = pd.factorize(posts["influencer_id"])
    codes = inf_index.get_indexer(uniques)[codes] if len(codes) else codes.astype(np.int64)
    if len(codes) and (codes < 0).any():
        raise ValueError("posts name an influencer_id that is not in influencers")
    tl = Timeline.build(codes, to_ns(posts["posted_at"]), len(inf_index))
    followers = influencers["followers"].to_numpy(dtype=np.float64)
    inter = tl.take(posts["likes"].to_numpy(np.float64) + posts["comments"].to_numpy(np.float64))
    fap = tl.take(posts["followers_at_post"].to_numpy(np.float64))
    base = np.where(fap > 0, fap, followers[tl.codes])
    er = safe_div(inter, np.where(base > 0, base, np.nan))
    del base
    views = tl.take(posts["views"].to_numpy(np.float64))
    views_er = safe_div(inter, np.where(views > 0, views, np.nan))
    del views
    sponsored = tl.take(posts["sponsored"].to_numpy(dtype=bool))
    er_ok = ~np.isnan(er)
    sums = tl.group_cumsums({"er": er, "er2": er * er, "er_sponsored": np.where(sponsored, er, 0.0),
                             "views_er": views_er})
    return PostHistory(
        timeline=tl, er=er, followers_at_post=fap,
        cs_er=sums["er"], cs_er2=sums["er2"], cs_er_sponsored=sums["er_sponsored"],
        cs_views_er=sums["views_er"],
        n_er=int_cumsum(er_ok), n_er_sponsored=int_cumsum(er_ok & sponsored),
        n_views_er=int_cumsum(~np.isnan(views_er)), n_sponsored=int_cumsum(sponsored),
        n_interactions=int_cumsum(inter),
    )

def engagement_features(
    ph: PostHistory, inf_codes: np.ndarray, as_of_ns: np.ndarray, followers: np.ndarray
) -> dict[str, np.ndarray]:
    """ENGAGEMENT_FEATURES (plus `mean_interactions_365d`) for (influencer code, as_of) queries.

    `followers` is the influencer's static follower count per query: the fallback when no
    post before as_of carries followers_at_post.
    """
    tl = ph.timeline
    start, end = tl.before(inf_codes, as_of_ns)
    win = {d: tl.first_not_before(start, end, as_of_ns - d * DAY_NS) for d in WINDOWS_DAYS}
    n_posts = end - start
    has = n_posts > 0

    def mean(cs: np.ndarray, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return safe_div(Timeline.range_sum(cs, start, lo, hi), counts[hi] - counts[lo])

    out: dict[str, np.ndarray] = {"n_posts": n_posts.astype(np.int64)}
    for d in WINDOWS_DAYS:
        out[f"er_mean_{d}d"] = mean(ph.cs_er, ph.n_er, win[d], end)
    out["er_mean_all"] = mean(ph.cs_er, ph.n_er, start, end)
    out.update(_window_medians(ph.er, start, end, {
        "er_median_90d": win[90], "er_median_365d": win[365], "er_median_all": start}))
    out["er_trend"] = safe_div(out["er_mean_90d"], mean(ph.cs_er, ph.n_er, win[365], win[90]))
    out["er_volatility_365d"] = _coefficient_of_variation(ph, start, win[365], end)
    out["views_er_90d"] = mean(ph.cs_views_er, ph.n_views_er, win[90], end)
    out["posts_per_week_90d"] = (end - win[90]) / (90 / 7)
    last = np.maximum(end - 1, 0)
    last_time = tl.times[last] if len(tl) else np.zeros(len(end), np.int64)
    out["days_since_last_post"] = np.where(has, (as_of_ns - last_time) / DAY_NS, np.nan)
    fap_now = np.where(has, ph.followers_at_post[last] if len(tl) else np.nan, np.nan)
    out["followers_as_of"] = np.where(np.isnan(fap_now), followers, fap_now)
    before_window = np.maximum(win[90] - 1, 0)
    fap_then = np.where(win[90] > start,
                        ph.followers_at_post[before_window] if len(tl) else np.nan, np.nan)
    out["follower_growth_90d"] = safe_div(fap_now, np.where(fap_then > 0, fap_then, np.nan)) - 1
    spons = safe_div(Timeline.range_sum(ph.cs_er_sponsored, start, start, end),
                     ph.n_er_sponsored[end] - ph.n_er_sponsored[start])
    organic = safe_div(
        Timeline.range_sum(ph.cs_er, start, start, end)
        - Timeline.range_sum(ph.cs_er_sponsored, start, start, end),
        (ph.n_er[end] - ph.n_er[start]) - (ph.n_er_sponsored[end] - ph.n_er_sponsored[start]))
    out["sponsored_er_ratio"] = safe_div(spons, organic)
    for d in (90, 365):
        out[f"sponsored_share_{d}d"] = safe_div(
            ph.n_sponsored[end] - ph.n_sponsored[win[d]], end - win[d])
    out["mean_interactions_365d"] = safe_div(
        ph.n_interactions[end] - ph.n_interactions[win[365]], end - win[365])
    return out


def _coefficient_of_variation(
    ph: PostHistory, start: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Sample standard deviation / mean of the engagement rate over sorted rows [lo, hi)."""
    n = (ph.n_er[hi] - ph.n_er[lo]).astype(np.float64)
    s1 = Timeline.range_sum(ph.cs_er, start, lo, hi)
    s2 = Timeline.range_sum(ph.cs_er2, start, lo, hi)
    mean = safe_div(s1, n)
    var = np.maximum(safe_div(s2 - s1 * mean, n - 1), 0.0)
    var = np.where(n >= 2, var, np.nan)
    return safe_div(np.sqrt(var), mean)


def _window_medians(
    values: np.ndarray, start: np.ndarray, end: np.ndarray, lows: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Median of `values` over sorted rows [low, end) per query, capped at MEDIAN_MAX_POSTS.

    The most recent MEDIAN_MAX_POSTS rows before `end` are gathered into a fixed-width
    matrix (chunked), rows before `low` and NaN values masked to +inf, then sorted per row.
    """
    k = MEDIAN_MAX_POSTS
    out = {name: np.full(len(end), np.nan) for name in lows}
    if not len(values) or not len(end):
        return out
    offsets = np.arange(-k, 0, dtype=np.int64)
    for c0 in range(0, len(end), MEDIAN_CHUNK):
        sl = slice(c0, c0 + MEDIAN_CHUNK)
        idx = end[sl, None] + offsets[None, :]
        gathered = values[np.maximum(idx, 0)]
        for name, low in lows.items():
            valid = (idx >= low[sl, None]) & ~np.isnan(gathered)
            m = np.sort(np.where(valid, gathered, np.inf), axis=1)
            n = valid.sum(axis=1)
            lo_i = (n - 1) // 2  # finite values sort to the left, masked +inf to the right
            hi_i = n // 2
            rows = np.arange(m.shape[0])
            med = 0.5 * (m[rows, np.clip(lo_i, 0, k - 1)] + m[rows, np.clip(hi_i, 0, k - 1)])
            out[name][sl] = np.where(n > 0, med, np.nan)
    return out
