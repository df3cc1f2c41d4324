"""Audience features: audience-target match and lift per dimension, audience quality, reach."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.contract import DIMENSIONS
from recommender.features.timeline import safe_div

AUDIENCE_PREFIX = "aud:"  # influencer audience share columns: aud:<dimension>:<segment>
TARGET_PREFIX = "tgt:"  # brand target share columns: tgt:<dimension>:<segment>

INFLUENCER_AUDIENCE_FEATURES = ["real_follower_share", "effective_reach"]
PAIR_AUDIENCE_FEATURES = (
    [f"audience_match_{d}" for d in DIMENSIONS]
    + ["audience_match_mean"]
    + [f"target_lift_{d}" for d in DIMENSIONS]
)


def shares_wide(long: pd.DataFrame, key: str, ids: pd.Series, prefix: str) -> pd.DataFrame:
    """Long shares as one row per id (in `ids` order) and one column per dimension:segment.

    A dimension the id has no rows for is NaN (unknown); a segment absent from a dimension
    the id does describe is 0.
    """
    ids = pd.Index(ids)
    if long.empty:
        return pd.DataFrame(index=pd.RangeIndex(len(ids)))
    known = long[long[key].isin(ids)]
    wide = known.pivot_table(index=key, columns=["dimension", "segment"], values="share",
                             aggfunc="sum", observed=True).reindex(ids)
    wide = wide.reindex(columns=_ordered(wide.columns))
    present = known.groupby([key, "dimension"]).size().unstack("dimension").reindex(ids)
    out = {}
    for dim, seg in wide.columns:
        has = present[dim].notna().to_numpy() if dim in present else np.zeros(len(ids), bool)
        col = wide[(dim, seg)].to_numpy(dtype=np.float64)
        out[f"{prefix}{dim}:{seg}"] = np.where(has, np.nan_to_num(col), np.nan)
    return pd.DataFrame(out, index=pd.RangeIndex(len(ids)))


def _ordered(columns: pd.MultiIndex) -> list[tuple[str, str]]:
    rank = {d: i for i, d in enumerate(DIMENSIONS)}
    return sorted(columns, key=lambda c: (rank.get(c[0], len(rank)), c[0], c[1]))


def catalogue_average(audience_wide: pd.DataFrame) -> pd.Series:
    """Mean share per audience column over the influencers that describe that dimension."""
    return audience_wide.mean(axis=0, skipna=True)


def influencer_audience_features(
    real_follower_share: np.ndarray, followers_as_of: np.ndarray, er_mean_365d: np.ndarray
) -> dict[str, np.ndarray]:
    """Audience quality and effective reach (followers x real share x engagement rate)."""
    real = np.asarray(real_follower_share, dtype=np.float64)
    return {
        "real_follower_share": real,
        "effective_reach": np.asarray(followers_as_of, np.float64) * real * er_mean_365d,
    }


def _segments(columns: list[str], prefix: str, dim: str) -> list[str]:
    head = f"{prefix}{dim}:"
    return [c[len(head):] for c in columns if c.startswith(head)]


def _block(frame: pd.DataFrame, rows: np.ndarray, prefix: str, dim: str,
           segments: list[str]) -> np.ndarray:
    """Shares of `segments` for the selected rows; absent segments 0, unknown dimension NaN."""
    own = _segments(list(frame.columns), prefix, dim)
    out = np.zeros((len(rows), len(segments)))
    if not own:
        return out * np.nan
    mat = frame[[f"{prefix}{dim}:{s}" for s in own]].to_numpy(dtype=np.float64)[rows]
    where = {s: i for i, s in enumerate(segments)}
    out[:, [where[s] for s in own]] = mat
    unknown = np.isnan(mat).all(axis=1)
    out[unknown] = np.nan
    return out


def audience_pair_features(
    influencer_side: pd.DataFrame, inf_rows: np.ndarray,
    brand_side: pd.DataFrame, brand_rows: np.ndarray, average: pd.Series,
) -> dict[str, np.ndarray]:
    """Per dimension: histogram intersection sum_s min(a_s, t_s) of audience a and target t,
    and lift sum_s t_s a_s / sum_s t_s avg_s against the catalogue average audience."""
    out: dict[str, np.ndarray] = {}
    n = len(inf_rows)
    for dim in DIMENSIONS:
        segs = sorted(set(_segments(list(influencer_side.columns), AUDIENCE_PREFIX, dim))
                      | set(_segments(list(brand_side.columns), TARGET_PREFIX, dim)))
        if not segs:
            out[f"audience_match_{dim}"] = out[f"target_lift_{dim}"] = np.full(n, np.nan)
            continue
        a = _block(influencer_side, inf_rows, AUDIENCE_PREFIX, dim, segs)
        t = _block(brand_side, brand_rows, TARGET_PREFIX, dim, segs)
        avg = np.array([average.get(f"{AUDIENCE_PREFIX}{dim}:{s}", 0.0) for s in segs])
        avg = np.nan_to_num(avg)
        known = ~np.isnan(a[:, 0]) & ~np.isnan(t[:, 0])
        match = np.minimum(a, t).sum(axis=1)
        lift = safe_div((a * t).sum(axis=1), np.nan_to_num(t) @ avg)
        out[f"audience_match_{dim}"] = np.where(known, match, np.nan)
        out[f"target_lift_{dim}"] = np.where(known, lift, np.nan)
    matches = np.column_stack([out[f"audience_match_{d}"] for d in DIMENSIONS])
    counted = (~np.isnan(matches)).sum(axis=1)
    out["audience_match_mean"] = safe_div(np.nansum(matches, axis=1), counted)
    return {k: out[k] for k in PAIR_AUDIENCE_FEATURES}
