"""Budget mode: priced influencers within a budget, maximising expected converting
collaborations and preferring audiences that overlap little.

Method. Each candidate i has a calibrated conversion probability p_i and a price c_i. The
expected number of converting collaborations of a set S is sum p_i. Two influencers whose
audiences overlap reach partly the same people, so a pick is discounted by its overlap with
those already chosen: its value is p_i * (1 - OVERLAP_PENALTY * max_{j in S} overlap(i, j)).
Choosing the best set under sum c_i <= budget is a knapsack problem (NP-hard, and the
overlap term makes it non-additive), so two greedy passes are run and the better kept:
  1. value per dollar: repeatedly add the affordable candidate with the largest value / c_i;
  2. value: repeatedly add the affordable candidate with the largest value.
Without overlap the better of the two is within a factor 2 of the optimum (the classic
greedy-knapsack bound); in practice it is close to it. At most `max_items` are chosen.

Overlap is estimated from audience shares, as no follower-level data exists: two influencers
on different platforms do not overlap; on the same platform, overlap is the mean over the
audience dimensions both describe (age, gender, country) of the histogram intersection
sum_s min(a_is, a_js). Without a shared described dimension it is 0 (no evidence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OVERLAP_PENALTY = 0.5


@dataclass(frozen=True)
class Selection:
    """Chosen candidate positions (in pick order) and the totals of the set."""

    chosen: np.ndarray
    total_price: float
    expected_conversions: float  # sum of p over the chosen set (no overlap discount)
    objective: float  # sum of overlap-discounted values


def overlap_with(k: int, audiences: list[np.ndarray], platform: np.ndarray) -> np.ndarray:
    """Estimated audience overlap of candidate `k` with every candidate, in [0, 1].

    `audiences` holds one (candidates x segments) share matrix per dimension, NaN rows where
    a candidate does not describe that dimension.
    """
    total = np.zeros(len(platform))
    counted = np.zeros(len(platform))
    for shares in audiences:
        inter = np.minimum(shares, shares[k]).sum(axis=1)  # NaN rows stay NaN
        both = ~np.isnan(shares[:, 0]) & ~np.isnan(shares[k, 0])
        total += np.where(both, inter, 0.0)
        counted += both
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counted > 0, total / np.maximum(counted, 1), 0.0)
    return np.where(platform == platform[k], np.clip(mean, 0.0, 1.0), 0.0)


def _greedy(p: np.ndarray, price: np.ndarray, budget: float, max_items: int,
            audiences: list[np.ndarray], platform: np.ndarray, per_dollar: bool) -> Selection:
    n = len(p)
    available = np.ones(n, dtype=bool)
    max_overlap = np.zeros(n)
    left, chosen, objective = budget, [], 0.0
    while len(chosen) < max_items:
        value = p * (1.0 - OVERLAP_PENALTY * max_overlap)
        ok = available & (price <= left) & (value > 0)
        if not ok.any():
            break
        key = value / np.maximum(price, 1e-9) if per_dollar else value
        k = int(np.flatnonzero(ok)[np.argmax(key[ok])])
        chosen.append(k)
        objective += value[k]
        left -= price[k]
        available[k] = False
        max_overlap = np.maximum(max_overlap, overlap_with(k, audiences, platform))
    idx = np.asarray(chosen, dtype=np.int64)
    return Selection(idx, float(price[idx].sum()), float(p[idx].sum()), float(objective))


def select_within_budget(p: np.ndarray, price: np.ndarray, budget: float, max_items: int,
                         audiences: list[np.ndarray], platform: np.ndarray) -> Selection:
    """The better (by discounted value) of the two greedy passes described in the module.

    Every candidate must have a finite price >= 0 (unpriced ones are left out by the caller).
    """
    p = np.asarray(p, dtype=np.float64)
    price = np.asarray(price, dtype=np.float64)
    if np.isnan(price).any() or (price < 0).any():
        raise ValueError("every budget candidate needs a finite price >= 0")
    passes = [_greedy(p, price, budget, max_items, audiences, platform, per_dollar)
              for per_dollar in (True, False)]
    return max(passes, key=lambda s: s.objective)
