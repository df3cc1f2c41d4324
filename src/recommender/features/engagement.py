"""Engagement-history features of an influencer as of an instant, from posts strictly before it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.features.timeline import (
    DAY_NS,
    Timeline,
    codes_in,
    covered_rows,
    safe_div,
    segment_sums,
    to_ns,
)

WINDOWS_DAYS = (30, 90, 365)
# Window medians are taken over at most this many of the window's most recent posts: exact
# whenever the window holds fewer posts, and a fixed-width (vectorisable) gather otherwise.
MEDIAN_MAX_POSTS = 64
MEDIAN_CHUNK = 65_536  # queries per gather, bounds memory at CHUNK x MAX_POSTS floats
# Queries are handled in chunks covering about this many consecutive posts, so that the
# per-post values of a chunk (~24 MB) stay small and their memory is reused.
POST_CHUNK = 1 << 20

ENGAGEMENT_FEATURES = [
    "n_posts",
    "er_mean_30d", "er_mean_90d", "er_mean_365d", "er_mean_all",
    "er_median_90d", "er_median_365d", "er_median_all",
    "er_trend", "er_volatility_365d", "views_er_90d",
    "posts_per_week_90d", "days_since_last_post",
    "followers_as_of", "follower_growth_90d",
    "sponsored_er_ratio", "sponsored_share_90d", "sponsored_share_365d",
]


# Rows of the per-post value block (0 where unknown) and of the flag block (int8). Values are
# float32 (relative precision 6e-8, far below any engagement signal) to halve the memory of
# 15 million posts; every sum over them accumulates in float64.
VALUE_DTYPE = np.float32
ER, ER2, ER_SPONSORED, VIEWS_ER, INTERACTIONS = range(5)
ER_OK, ER_OK_SPONSORED, VIEWS_OK, SPONSORED = range(4)


@dataclass(frozen=True)
class PostHistory:
    """Posts in (influencer, time) order; per-post values are computed on demand, for the
    posts some query covers (all of them when scoring a whole catalogue, few of them for a
    training set)."""

    timeline: Timeline
    posts: pd.DataFrame  # the source rows, not copied
    followers: np.ndarray  # each influencer's follower count, by code

    def source(self, rows: np.ndarray) -> np.ndarray:
        """Source positions of sorted posts `rows`."""
        return rows if self.timeline.sort_order is None else self.timeline.sort_order[rows]

    def column(self, name: str, rows: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """A post column for sorted posts `rows` (a new array)."""
        return self.posts[name].to_numpy(dtype)[self.source(rows)]

    def blocks(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, flags) of sorted posts `rows`, one padding column at the end.

        values: ER (likes + comments over followers_at_post, else followers), its square, ER
        of sponsored posts, views ER, likes + comments. flags: known ER, known sponsored ER,
        known views ER, sponsored.
        """
        n = len(rows)
        values = np.zeros((5, n + 1), dtype=VALUE_DTYPE)
        flags = np.zeros((4, n + 1), dtype=np.int8)
        src = self.source(rows)
        inter = values[INTERACTIONS, :n]
        np.add(self.posts["likes"].to_numpy()[src], self.posts["comments"].to_numpy()[src],
               out=inter, casting="unsafe")
        base = self.column("followers_at_post", rows)
        missing = np.flatnonzero(~(base > 0))
        if len(missing):  # followers where followers_at_post is unknown
            codes = self.timeline.codes[rows[missing]]
            base[missing] = self.followers[codes]
        _rate(inter, base, values[ER, :n], flags[ER_OK, :n])
        del base
        _rate(inter, self.column("views", rows), values[VIEWS_ER, :n], flags[VIEWS_OK, :n])
        flags[SPONSORED, :n] = self.column("sponsored", rows, bool)
        np.square(values[ER], out=values[ER2])
        np.multiply(values[ER], flags[SPONSORED], out=values[ER_SPONSORED])
        np.multiply(flags[ER_OK], flags[SPONSORED], out=flags[ER_OK_SPONSORED])
        return values, flags

    @property
    def er(self) -> np.ndarray:
        """Engagement rate of every post in timeline order, NaN where it is unknown."""
        n = len(self.timeline)
        values, flags = self.blocks(np.arange(n, dtype=np.int64))
        return np.where(flags[ER_OK, :n] > 0, values[ER, :n].astype(np.float64), np.nan)


def post_history(posts: pd.DataFrame, influencers: pd.DataFrame) -> PostHistory:
    """Put the posts in (influencer, posted_at) order; values are computed per query set."""
    inf_index = pd.Index(influencers["influencer_id"])
    codes = codes_in(posts["influencer_id"], inf_index)
    if len(codes) and (codes < 0).any():
        raise ValueError("posts name an influencer_id that is not in influencers")
    tl = Timeline.build(codes, to_ns(posts["posted_at"]), len(inf_index))
    return PostHistory(tl, posts, influencers["followers"].to_numpy(np.float64))


def _rate(num: np.ndarray, den: np.ndarray, out: np.ndarray, known: np.ndarray) -> None:
    """out = num / den where den > 0 (out is zero elsewhere), and known = 1 there."""
    ok = den > 0
    np.divide(num, den, out=out, where=ok, casting="same_kind")
    known[:] = ok


class _Windows:
    """Window sums of the per-post values for queries in (group, as_of) order.

    The windows are nested, so [start, end) is cut into four segments at the 365-, 90- and
    30-day bounds and summed once; each window is a sum of its segments, added up once here
    (several features read the same window).
    """

    SEGMENTS = {"all": (0, 4), "365": (1, 4), "90": (2, 4), "30": (3, 4), "older": (1, 2)}

    def __init__(self, values: np.ndarray, flags: np.ndarray, bounds: list[np.ndarray]):
        values = segment_sums(values, bounds, dtype=np.float64)
        flags = segment_sums(flags, bounds, dtype=np.int32)
        self._sums = {window: (values[:, :, lo:hi].sum(axis=2), flags[:, :, lo:hi].sum(axis=2))
                      for window, (lo, hi) in self.SEGMENTS.items()}

    def sums(self, window: str) -> tuple[np.ndarray, np.ndarray]:
        """(value sums, flag counts) of every row over the window, per query (read only)."""
        return self._sums[window]

    def mean(self, row: int, count_row: int, window: str) -> np.ndarray:
        total, counts = self.sums(window)
        return safe_div(total[row], counts[count_row])


def engagement_features(
    ph: PostHistory, inf_codes: np.ndarray, as_of_ns: np.ndarray, followers: np.ndarray
) -> dict[str, np.ndarray]:
    """ENGAGEMENT_FEATURES (plus `mean_interactions_365d`) for (influencer code, as_of) queries.

    `followers` is the influencer's static follower count per query: the fallback when no
    post before as_of carries followers_at_post. Queries are handled in (influencer, as_of)
    order, in chunks that each cover about POST_CHUNK consecutive posts.
    """
    order = np.lexsort((as_of_ns, inf_codes))
    codes = np.asarray(inf_codes)[order]
    as_of_sorted = np.asarray(as_of_ns)[order]
    start, end = ph.timeline.before(codes, as_of_sorted)
    cuts = np.flatnonzero(np.diff(start // POST_CHUNK)) + 1
    parts = [_sorted_features(ph, start[a:b], end[a:b], as_of_sorted[a:b],
                              np.asarray(followers, dtype=np.float64)[order[a:b]])
             for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    restored = {}
    for name in parts[0]:
        restored[name] = np.empty(len(order), dtype=parts[0][name].dtype)
        restored[name][order] = np.concatenate([p[name] for p in parts])
    return restored


def _sorted_features(ph: PostHistory, start: np.ndarray, end: np.ndarray, as_of_ns: np.ndarray,
                     followers: np.ndarray) -> dict[str, np.ndarray]:
    """Features of queries sorted by (influencer, as_of) whose posts are [start, end)."""
    tl = ph.timeline
    win = {d: tl.first_not_before(start, end, as_of_ns - d * DAY_NS) for d in WINDOWS_DAYS}
    bounds = [start, win[365], win[90], win[30], end]
    # Per-post values for the posts these queries cover: a stretch of consecutive posts, or
    # only the covered ones when they are few (a training set's scattered histories).
    lo = int(start.min()) if len(start) else 0
    hi = int(end.max()) if len(end) else 0
    covered = covered_rows(start, end, (hi - lo) // 2)
    if covered is None:
        covered = np.arange(lo, hi, dtype=np.int64)
    values, flags = ph.blocks(covered)
    local = [np.searchsorted(covered, b) for b in bounds]
    w = _Windows(values, flags, local)
    n_posts = end - start
    has = n_posts > 0
    out: dict[str, np.ndarray] = {"n_posts": n_posts.astype(np.int64)}
    for d in WINDOWS_DAYS:
        out[f"er_mean_{d}d"] = w.mean(ER, ER_OK, str(d))
    out["er_mean_all"] = w.mean(ER, ER_OK, "all")
    out.update(_window_medians(values[ER], flags[ER_OK], local[0], local[-1], {
        "er_median_90d": local[2], "er_median_365d": local[1], "er_median_all": local[0]}))
    out["er_trend"] = safe_div(out["er_mean_90d"], w.mean(ER, ER_OK, "older"))
    out["er_volatility_365d"] = _coefficient_of_variation(*w.sums("365"))
    out["views_er_90d"] = w.mean(VIEWS_ER, VIEWS_OK, "90")
    out["posts_per_week_90d"] = (end - win[90]) / (90 / 7)
    last = np.maximum(end - 1, 0)
    last_time = tl.times[last] if len(tl) else np.zeros(len(end), np.int64)
    out["days_since_last_post"] = np.where(has, (as_of_ns - last_time) / DAY_NS, np.nan)
    fap_now = np.where(has, ph.column("followers_at_post", last) if len(tl) else np.nan, np.nan)
    out["followers_as_of"] = np.where(np.isnan(fap_now), followers, fap_now)
    before_window = np.maximum(win[90] - 1, 0)
    fap_then = np.where(win[90] > start, ph.column("followers_at_post", before_window)
                        if len(tl) else np.nan, np.nan)
    out["follower_growth_90d"] = safe_div(fap_now, np.where(fap_then > 0, fap_then, np.nan)) - 1
    total, counts = w.sums("all")
    organic = safe_div(total[ER] - total[ER_SPONSORED], counts[ER_OK] - counts[ER_OK_SPONSORED])
    out["sponsored_er_ratio"] = safe_div(w.mean(ER_SPONSORED, ER_OK_SPONSORED, "all"), organic)
    for d in (90, 365):
        out[f"sponsored_share_{d}d"] = safe_div(w.sums(str(d))[1][SPONSORED], end - win[d])
    out["mean_interactions_365d"] = safe_div(w.sums("365")[0][INTERACTIONS], end - win[365])
    return out


def _coefficient_of_variation(total: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sample standard deviation / mean of the engagement rate, from its window sums."""
    n = counts[ER_OK].astype(np.float64)
    mean = safe_div(total[ER], n)
    var = np.maximum(safe_div(total[ER2] - total[ER] * mean, n - 1), 0.0)
    var = np.where(n >= 2, var, np.nan)
    return safe_div(np.sqrt(var), mean)


def _window_medians(
    values: np.ndarray, known: np.ndarray, start: np.ndarray, end: np.ndarray,
    lows: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Median of the known `values` over sorted rows [low, end) per query, capped at the
    MEDIAN_MAX_POSTS most recent rows.

    Those rows before `end` are gathered into a fixed-width matrix (chunked), rows before
    `low` or not known masked to +inf, then sorted per row.
    """
    k = MEDIAN_MAX_POSTS
    out = {name: np.full(len(end), np.nan) for name in lows}
    if not len(values) or not len(end):
        return out
    offsets = np.arange(-k, 0, dtype=np.int64)
    for c0 in range(0, len(end), MEDIAN_CHUNK):
        sl = slice(c0, c0 + MEDIAN_CHUNK)
        idx = end[sl, None] + offsets[None, :]
        safe = np.maximum(idx, 0)
        gathered, ok = values[safe].astype(np.float64), known[safe] > 0
        for name, low in lows.items():
            valid = (idx >= low[sl, None]) & ok
            m = np.sort(np.where(valid, gathered, np.inf), axis=1)
            n = valid.sum(axis=1)
            lo_i = (n - 1) // 2  # finite values sort to the left, masked +inf to the right
            hi_i = n // 2
            rows = np.arange(m.shape[0])
            med = 0.5 * (m[rows, np.clip(lo_i, 0, k - 1)] + m[rows, np.clip(hi_i, 0, k - 1)])
            out[name][sl] = np.where(n > 0, med, np.nan)
    return out
