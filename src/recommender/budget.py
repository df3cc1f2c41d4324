"""Budget mode: priced influencers within a budget, maximising expected converting
collaborations exactly, then trading a little of them for audiences that overlap less.

Method. Each candidate i has a calibrated conversion probability p_i and a price c_i; the
expected number of converting collaborations of a set S is sum p_i.
  1. Exact: the set maximising sum p_i under sum c_i <= budget and |S| <= max_items is a
     knapsack with a cardinality limit, solved exactly as a 0-1 integer programme
     (`scipy.optimize.milp`, HiGHS) over the candidates no set needs: a candidate is left
     out first when `max_items` others are at most as expensive and at least as likely to
     convert (any set holding it can swap it for one of them, losing nothing).
  2. Overlap: two influencers whose audiences overlap reach partly the same people, so the
     set's discounted value counts each member, in order of p, at
     p_i * (1 - OVERLAP_PENALTY * max overlap with the members before it). A swap-based local
     search (swap one member for a non-member, or add one) raises the discounted value while
     the set stays within the budget, within `max_items` and within SLACK (1%) of the exact
     optimum's expected conversions: the overlap decides between near-optimal sets, it never
     costs more than 1% of the expected conversions.
Should the solver not prove an optimum in its time limit, the better of two greedy passes
(by value per dollar, by value) is used and a warning logged.

Overlap is estimated from audience shares, as no follower-level data exists: the mean over
the audience dimensions both describe (age, gender, country) of the histogram intersection
sum_s min(a_is, a_js), whatever the platforms (the same people follow accounts on several);
without a shared described dimension it is 0 (no evidence).
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

OVERLAP_PENALTY = 0.5
SLACK = 0.01  # share of the optimum's expected conversions the overlap search may give up
MAX_POOL = 256  # candidates the local search considers (the likeliest that could enter)
MAX_MOVES = 200
TIME_LIMIT_S = 1.0


@dataclass(frozen=True)
class Selection:
    """Chosen candidate positions (in order of p) and the totals of the set."""

    chosen: np.ndarray
    total_price: float
    expected_conversions: float  # sum of p over the chosen set (no overlap discount)
    objective: float  # sum of overlap-discounted values
    method: str = "exact"  # "exact", or "greedy" when the solver gave up


def overlap_between(a: np.ndarray, b: np.ndarray, audiences: list[np.ndarray]) -> np.ndarray:
    """Estimated audience overlap (len(a) x len(b), in [0, 1]) of candidates `a` with `b`.

    `audiences` holds one (candidates x segments) share matrix per dimension, NaN rows where
    a candidate does not describe that dimension.
    """
    total = np.zeros((len(a), len(b)))
    counted = np.zeros((len(a), len(b)))
    for shares in audiences:
        sa, sb = shares[a], shares[b]
        inter = np.minimum(sa[:, None, :], sb[None, :, :]).sum(axis=2)
        both = ~np.isnan(sa[:, :1]) & ~np.isnan(sb[:, 0])[None, :]
        total += np.where(both, inter, 0.0)
        counted += both
    mean = np.divide(total, counted, out=np.zeros_like(total), where=counted > 0)
    return np.clip(mean, 0.0, 1.0)


def discounted_value(chosen: np.ndarray, p: np.ndarray, audiences: list[np.ndarray]) -> float:
    """The set's value: each member, in order of p, discounted by its largest overlap with
    the members before it."""
    order = _by_p(np.asarray(chosen, dtype=np.int64), p)
    ov = overlap_between(order, order, audiences)
    before = np.tril(ov, k=-1).max(axis=1, initial=0.0)
    return float((p[order] * (1.0 - OVERLAP_PENALTY * before)).sum())


def _by_p(idx: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Positions in order of p (highest first), ties by position."""
    return idx[np.lexsort((idx, -p[idx]))]


def undominated(p: np.ndarray, price: np.ndarray, max_items: int) -> np.ndarray:
    """Candidates some optimal set may need: those without `max_items` others at most as
    expensive and at least as likely (ties broken by position, so one of equals stays)."""
    order = np.lexsort((np.arange(len(p)), -p, price))
    best: list[float] = []  # the max_items largest p among candidates before, as a min-heap
    keep = []
    for i in order:
        if len(best) < max_items or best[0] < p[i]:
            keep.append(i)
        if len(best) < max_items:
            heapq.heappush(best, p[i])
        elif best[0] < p[i]:
            heapq.heapreplace(best, p[i])
    return np.sort(np.asarray(keep, dtype=np.int64))


def exact_knapsack(p: np.ndarray, price: np.ndarray, budget: float, max_items: int
                   ) -> np.ndarray | None:
    """Positions of a set maximising sum p within the budget and max_items (None if the
    solver does not prove an optimum in TIME_LIMIT_S)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    idx = undominated(p, price, max_items)
    idx = idx[(price[idx] <= budget) & (p[idx] > 0)]
    if not len(idx):
        return np.zeros(0, dtype=np.int64)
    if len(idx) <= max_items and price[idx].sum() <= budget:
        return idx  # everything left fits
    A = np.vstack([price[idx], np.ones(len(idx))])
    res = milp(-p[idx], integrality=np.ones(len(idx)), bounds=Bounds(0, 1),
               constraints=LinearConstraint(A, -np.inf, [budget, max_items]),
               options={"time_limit": TIME_LIMIT_S, "mip_rel_gap": 1e-9})
    if res.status != 0 or res.x is None:
        logger.warning("budget: the knapsack solver stopped without an optimum (%s)",
                       res.message)
        return None
    return idx[res.x > 0.5]


def _improve(chosen: np.ndarray, p: np.ndarray, price: np.ndarray, budget: float,
             max_items: int, audiences: list[np.ndarray]) -> np.ndarray:
    """Swap-based local search on the discounted value (see the module), best move first."""
    floor = (1.0 - SLACK) * p[chosen].sum()
    room = p[chosen].sum() - floor
    low = p[chosen].min() if len(chosen) else 0.0
    outside = np.setdiff1d(np.flatnonzero((price <= budget) & (p >= low - room)), chosen)
    outside = outside[np.argsort(-p[outside], kind="stable")][:MAX_POOL]
    pool = np.concatenate([chosen, outside])
    ov = overlap_between(pool, pool, audiences)
    pp, pc = p[pool], price[pool]
    # higher[a, b]: pool member a comes before b (higher p, ties by catalogue position)
    higher = (pp[:, None] > pp[None, :]) | ((pp[:, None] == pp[None, :])
                                            & (pool[:, None] < pool[None, :]))
    before = np.where(higher, ov, 0.0)  # before[a, b]: overlap of b with an a ranked above it

    def value(members: np.ndarray) -> float:
        worst = before[np.ix_(members, members)].max(axis=0, initial=0.0)
        return float((pp[members] * (1.0 - OVERLAP_PENALTY * worst)).sum())

    def values_with(rest: np.ndarray, js: np.ndarray) -> np.ndarray:
        """value(rest + [j]) for every j of js at once."""
        worst = before[np.ix_(rest, rest)].max(axis=0, initial=0.0)  # (rest,)
        worst_j = np.maximum(worst[None, :], before[np.ix_(js, rest)])  # (js, rest)
        own = before[np.ix_(rest, js)].max(axis=0, initial=0.0)  # (js,)
        return ((pp[rest][None, :] * (1.0 - OVERLAP_PENALTY * worst_j)).sum(axis=1)
                + pp[js] * (1.0 - OVERLAP_PENALTY * own))

    members = np.arange(len(chosen))
    current = value(members)
    for _ in range(MAX_MOVES):
        spent, total = pc[members].sum(), pp[members].sum()
        best, best_set = current + 1e-12, None
        others = np.setdiff1d(np.arange(len(pool)), members)
        moves = [members[members != m] for m in members]
        if len(members) < max_items:
            moves.append(members)
        for rest in moves:
            gone = np.setdiff1d(members, rest)
            cost = spent - pc[gone].sum() + pc[others]
            gain = total - pp[gone].sum() + pp[others]
            js = others[(cost <= budget) & (gain >= floor)]
            if not len(js):
                continue
            v = values_with(rest, js)
            k = int(np.argmax(v))
            if v[k] > best:
                best, best_set = float(v[k]), np.append(rest, js[k])
        if best_set is None:
            break
        members, current = best_set, best
    return pool[members]


def greedy(p: np.ndarray, price: np.ndarray, budget: float, max_items: int,
           audiences: list[np.ndarray], per_dollar: bool) -> np.ndarray:
    """One greedy pass: repeatedly add the affordable candidate with the largest
    overlap-discounted value (per dollar if `per_dollar`); the method before the exact one."""
    n = len(p)
    available = np.ones(n, dtype=bool)
    max_overlap = np.zeros(n)
    left, chosen = budget, []
    while len(chosen) < max_items:
        value = p * (1.0 - OVERLAP_PENALTY * max_overlap)
        ok = available & (price <= left) & (value > 0)
        if not ok.any():
            break
        key = value / np.maximum(price, 1e-9) if per_dollar else value
        k = int(np.flatnonzero(ok)[np.argmax(key[ok])])
        chosen.append(k)
        left -= price[k]
        available[k] = False
        max_overlap = np.maximum(max_overlap,
                                 overlap_between(np.array([k]), np.arange(n), audiences)[0])
    return np.asarray(chosen, dtype=np.int64)


def _selection(chosen: np.ndarray, p: np.ndarray, price: np.ndarray,
               audiences: list[np.ndarray], method: str) -> Selection:
    chosen = _by_p(np.asarray(chosen, dtype=np.int64), p)
    return Selection(chosen, float(price[chosen].sum()), float(p[chosen].sum()),
                     discounted_value(chosen, p, audiences), method)


def best_greedy(p: np.ndarray, price: np.ndarray, budget: float, max_items: int,
                audiences: list[np.ndarray]) -> Selection:
    """The better (by discounted value) of the greedy passes by value per dollar and by value."""
    passes = [_selection(greedy(p, price, budget, max_items, audiences, per_dollar), p, price,
                         audiences, "greedy") for per_dollar in (True, False)]
    return max(passes, key=lambda s: s.objective)


def select_within_budget(p: np.ndarray, price: np.ndarray, budget: float, max_items: int,
                         audiences: list[np.ndarray]) -> Selection:
    """The exact knapsack optimum, then the overlap local search (see the module).

    Every candidate must have a finite price >= 0 (unpriced ones are left out by the caller).
    """
    p = np.asarray(p, dtype=np.float64)
    price = np.asarray(price, dtype=np.float64)
    if np.isnan(price).any() or (price < 0).any():
        raise ValueError("every budget candidate needs a finite price >= 0")
    chosen = exact_knapsack(p, price, budget, max_items)
    if chosen is None:
        return best_greedy(p, price, budget, max_items, audiences)
    if len(chosen) and audiences:
        chosen = _improve(chosen, p, price, budget, max_items, audiences)
    return _selection(chosen, p, price, audiences, "exact")
