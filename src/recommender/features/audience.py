"""Audience features: audience-target match and lift per dimension, audience quality, reach."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from recommender.contract import DIMENSIONS
from recommender.features.timeline import encode, safe_div

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
    the id does describe is 0. Rows of ids not in `ids` are ignored.
    """
    n = len(ids)
    if long.empty:
        return pd.DataFrame(index=pd.RangeIndex(n))
    rows = encode(long[key], pd.Index(ids))
    keep = rows >= 0
    dim_code, dim_names = pd.factorize(long["dimension"])
    seg_code, seg_names = pd.factorize(long["segment"])
    dim_code, seg_code = dim_code[keep], seg_code[keep]
    rows, shares = rows[keep], long["share"].to_numpy(dtype=np.float64)[keep]
    pair_code = dim_code.astype(np.int64) * len(seg_names) + seg_code
    distinct, col = np.unique(pair_code, return_inverse=True)
    found = [(dim_names[c // len(seg_names)], seg_names[c % len(seg_names)]) for c in distinct]
    columns = _ordered(found)  # a few dozen dimension:segment names, not rows
    position = np.array([columns.index(c) for c in found], dtype=np.int64)
    matrix = np.zeros((n, len(columns)))
    matrix[rows, position[col]] = shares  # validated data: one row per (id, dim, segment)
    for d, dim in enumerate(dim_names):
        described = np.zeros(n, dtype=bool)
        described[rows[dim_code == d]] = True
        in_dim = [i for i, c in enumerate(columns) if c[0] == dim]
        matrix[np.ix_(~described, in_dim)] = np.nan
    return pd.DataFrame(matrix, columns=[f"{prefix}{d}:{s}" for d, s in columns])


def _ordered(columns) -> list[tuple[str, str]]:
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


def segment_columns(columns: pd.Index, prefix: str, dim: str) -> dict[str, str]:
    """{segment: column name} of one dimension's wide share columns (`aud:age:18-24`)."""
    head = f"{prefix}{dim}:"
    return {c[len(head):]: c for c in columns if isinstance(c, str) and c.startswith(head)}


def share_columns(frame: pd.DataFrame, prefix: str) -> dict[str, np.ndarray]:
    """{column: float64 shares} of a frame's wide share columns with this prefix."""
    return {c: frame[c].to_numpy(dtype=np.float64) for c in frame.columns
            if isinstance(c, str) and c.startswith(prefix)}


def _columns(shares: Mapping[str, np.ndarray], prefix: str, dim: str) -> dict[str, np.ndarray]:
    """{segment: shares per row} of one dimension."""
    return {segment: shares[c] for segment, c in segment_columns(shares, prefix, dim).items()}


def _described(columns: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Rows that describe the dimension (its shares are NaN together when it is unknown)."""
    if not columns:
        return np.zeros(n, dtype=bool)
    return ~np.isnan(next(iter(columns.values())))


def _is_identity(rows: np.ndarray, n: int) -> bool:
    return len(rows) == n and bool(np.array_equal(rows, np.arange(n)))


def _take(values: np.ndarray, rows: np.ndarray, identity: bool) -> np.ndarray | float:
    """values[rows], without the copy when rows is the identity or a single repeated row."""
    if len(values) == 1:
        return float(values[0])
    return values if identity else values[rows]


def audience_pair_features(
    influencer_side: pd.DataFrame, inf_rows: np.ndarray,
    brand_side: pd.DataFrame, brand_rows: np.ndarray, average: pd.Series,
) -> dict[str, np.ndarray]:
    """`audience_pair_arrays` of the two sides' wide share columns."""
    return audience_pair_arrays(share_columns(influencer_side, AUDIENCE_PREFIX),
                                len(influencer_side), inf_rows,
                                share_columns(brand_side, TARGET_PREFIX), len(brand_side),
                                brand_rows, average)


def audience_pair_arrays(
    audience: Mapping[str, np.ndarray], n_influencers: int, inf_rows: np.ndarray,
    targets: Mapping[str, np.ndarray], n_brands: int, brand_rows: np.ndarray,
    average: Mapping[str, float],
) -> dict[str, np.ndarray]:
    """Per dimension, for audience shares a and target shares t of each pair:
    match = sum_s min(a_s, t_s) (histogram intersection, 1 = the audience covers the target)
    and lift = sum_s t_s a_s / sum_s t_s avg_s against the catalogue average audience.

    `audience` / `targets`: {aud:<dim>:<segment> / tgt:...: float64 shares per side row}.
    Loops over target segments (never over pairs): each step is a gather over the pairs.
    Unknown dimensions are NaN on whole rows, so they come out NaN without extra masking.
    """
    out: dict[str, np.ndarray] = {}
    n = len(inf_rows)
    inf_identity = _is_identity(inf_rows, n_influencers)
    brand_identity = _is_identity(brand_rows, n_brands)
    for dim in DIMENSIONS:
        aud = _columns(audience, AUDIENCE_PREFIX, dim)
        tgt = _columns(targets, TARGET_PREFIX, dim)
        known = (_described(aud, n_influencers)[inf_rows]
                 & _described(tgt, n_brands)[brand_rows])
        match, dot, base = np.zeros(n), np.zeros(n), np.zeros(n)
        for seg, t_side in tgt.items():
            if not np.any(t_side > 0):
                continue
            t = _take(t_side, brand_rows, brand_identity)
            avg = average.get(f"{AUDIENCE_PREFIX}{dim}:{seg}", 0.0)
            base += t * (0.0 if pd.isna(avg) else float(avg))
            if seg in aud:
                a = _take(aud[seg], inf_rows, inf_identity)
                match += np.minimum(a, t)
                dot += a * t
        out[f"audience_match_{dim}"] = np.where(known, match, np.nan)
        out[f"target_lift_{dim}"] = np.where(known, safe_div(dot, base), np.nan)
    matches = np.column_stack([out[f"audience_match_{d}"] for d in DIMENSIONS])
    counted = (~np.isnan(matches)).sum(axis=1)
    out["audience_match_mean"] = safe_div(np.nansum(matches, axis=1), counted)
    return {k: out[k] for k in PAIR_AUDIENCE_FEATURES}
