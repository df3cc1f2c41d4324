"""Audience shares (age, gender, country) of influencers and brand targets, and their overlap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.world.params import AGE, COUNTRIES, GENDER


@dataclass(frozen=True)
class Shares:
    """Dense audience shares: one row per account, one column per segment."""

    age: np.ndarray  # (n, 6), rows sum to 1
    gender: np.ndarray  # (n, 3), rows sum to 1
    country: np.ndarray  # (n, len(COUNTRIES)), rows sum to <= 1 (long tail unlisted)


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / x.sum(axis=1, keepdims=True)


def age_shares(rng: np.random.Generator, centre: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Bell-shaped age shares around `centre` (segment index), with Dirichlet-like noise."""
    k = np.arange(len(AGE))
    bell = np.exp(-0.5 * ((k[None, :] - centre[:, None]) / width[:, None]) ** 2) + 0.01
    return _normalise(bell * rng.gamma(8.0, size=bell.shape))


def gender_shares(rng: np.random.Generator, female_mean: np.ndarray, concentration: float
                  ) -> np.ndarray:
    """Female/male/other shares: female ~ Beta around `female_mean`, other 0.5-3%."""
    fm = np.clip(female_mean, 0.02, 0.98)
    female = rng.beta(fm * concentration, (1 - fm) * concentration)
    other = rng.uniform(0.005, 0.03, size=len(fm))
    female = female * (1 - other)
    return np.column_stack([female, 1 - other - female, other])


def country_shares(rng: np.random.Generator, home: np.ndarray, home_weight: np.ndarray,
                   top_k: int, coverage: np.ndarray) -> np.ndarray:
    """Country shares led by `home`; only the `top_k` largest kept, scaled to `coverage` (<= 1)."""
    n, k = len(home), len(COUNTRIES)
    alpha = np.full((n, k), 0.35)
    alpha[np.arange(n), home] += home_weight
    shares = _normalise(rng.gamma(alpha))
    cut = np.sort(shares, axis=1)[:, k - top_k][:, None]
    shares = np.where(shares >= cut, shares, 0.0)
    return _normalise(shares) * coverage[:, None]


def audience_match(a: Shares, b: Shares, a_idx: np.ndarray, b_idx: np.ndarray,
                   dims: tuple[str, ...] = ("age", "gender", "country")) -> np.ndarray:
    """Mean over `dims` of the overlap sum(min(a, b)) of rows `a_idx`, `b_idx` (broadcast)."""
    total = np.zeros(np.broadcast_shapes(np.shape(a_idx), np.shape(b_idx)))
    for dim in dims:
        total += np.minimum(getattr(a, dim)[a_idx], getattr(b, dim)[b_idx]).sum(axis=-1)
    return total / len(dims)


def to_long(shares: Shares, ids: pd.Series, key: str) -> pd.DataFrame:
    """Long-format audience table (key, dimension, segment, share); zero shares dropped.

    Shares are floored to 4 decimals so that each (key, dimension) still sums to at most 1.
    """
    rows_all, dims, segs, vals = [], [], [], []
    for dim, segments in (("age", AGE), ("gender", GENDER), ("country", COUNTRIES)):
        m = getattr(shares, dim)
        rows, cols = np.nonzero(m > 0)
        rows_all.append(rows)
        dims.append(np.full(len(rows), dim))
        segs.append(np.asarray(segments)[cols])
        vals.append(np.floor(m[rows, cols] * 1e4) / 1e4)
    rows = np.concatenate(rows_all)
    order = np.argsort(rows, kind="stable")  # group by account, dimensions in fixed order
    return pd.DataFrame({
        key: ids.take(rows[order]).reset_index(drop=True),
        "dimension": pd.array(np.concatenate(dims)[order], dtype="str"),
        "segment": pd.array(np.concatenate(segs)[order], dtype="str"),
        "share": np.concatenate(vals)[order],
    })
