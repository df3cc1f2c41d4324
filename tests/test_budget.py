"""Budget mode: the exact knapsack (checked by hand and against enumeration), the dominance
pruning it rests on, and the overlap local search on audience segments."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from recommender.budget import (
    SLACK,
    best_greedy,
    discounted_value,
    overlap_between,
    select_within_budget,
    undominated,
)

NO_AUDIENCE: list[np.ndarray] = []


def test_exact_beats_greedy_where_top_n_binds():
    # budget 100, at most 2: by value the greedy takes X (0.6, $90), then only W fits (0.8);
    # by value per dollar it takes W ($5), then Y (0.7). The best pair is Y + Z: 1.0.
    p = np.array([0.6, 0.5, 0.5, 0.2])
    price = np.array([90.0, 50.0, 50.0, 5.0])
    greedy = best_greedy(p, price, 100.0, 2, NO_AUDIENCE)
    assert greedy.expected_conversions == pytest.approx(0.8)
    sel = select_within_budget(p, price, 100.0, 2, NO_AUDIENCE)
    assert sorted(sel.chosen) == [1, 2] and sel.method == "exact"
    assert sel.expected_conversions == pytest.approx(1.0) and sel.total_price == 100.0


def test_exact_knapsack_matches_enumeration_of_every_subset():
    rng = np.random.default_rng(0)
    for _ in range(40):
        n = int(rng.integers(1, 11))
        p = rng.uniform(0.01, 0.6, n).round(3)
        price = rng.choice([5.0, 10.0, 20.0, 35.0, 50.0, 80.0], n)
        budget, k = float(rng.choice([30.0, 60.0, 120.0])), int(rng.integers(1, 5))
        best = max((sum(p[list(s)]) for r in range(min(k, n) + 1)
                    for s in itertools.combinations(range(n), r)
                    if sum(price[list(s)]) <= budget), default=0.0)
        sel = select_within_budget(p, price, budget, k, NO_AUDIENCE)
        assert sel.expected_conversions == pytest.approx(best, abs=1e-9)
        assert sel.total_price <= budget and len(sel.chosen) <= k


def test_a_candidate_with_max_items_cheaper_and_likelier_others_is_pruned():
    p = np.array([0.5, 0.4, 0.3, 0.45])
    price = np.array([10.0, 10.0, 20.0, 30.0])
    # 2: two others (0, 1) cost less and convert more; 3: only 0 beats it on both
    assert list(undominated(p, price, 2)) == [0, 1, 3]
    assert list(undominated(p, price, 1)) == [0]


def test_same_audience_overlaps_whatever_the_platform_and_undescribed_is_no_evidence():
    ages = np.array([[0.6, 0.4], [0.6, 0.4], [0.0, 1.0], [np.nan, np.nan]])
    ov = overlap_between(np.arange(4), np.arange(4), [ages])
    assert ov[0, 1] == pytest.approx(1.0)  # no platform in sight: same people
    assert ov[0, 2] == pytest.approx(0.4) and ov[0, 3] == 0.0
    genders = np.array([[0.5, 0.5], [1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    ov = overlap_between(np.arange(4), np.arange(4), [ages, genders])
    assert ov[0, 1] == pytest.approx((1.0 + 0.5) / 2) and ov[0, 3] == pytest.approx(1.0)


def test_overlap_search_swaps_a_twin_audience_for_a_near_as_likely_different_one():
    # 0 and 1 share an audience; 2 is nearly as likely (0 + 2 hold 0.996 of the optimum's
    # expected conversions) and reaches other people: the search swaps 1 for 2
    shares = [np.array([[0.5, 0.5], [0.5, 0.5], [1.0, 0.0]])]
    p, price = np.array([0.5, 0.499, 0.495]), np.array([50.0, 50.0, 50.0])
    sel = select_within_budget(p, price, 100.0, 2, shares)
    assert list(sel.chosen) == [0, 2]
    assert sel.objective == pytest.approx(discounted_value(np.array([0, 2]), p, shares))
    assert sel.objective > discounted_value(np.array([0, 1]), p, shares)
    # but never for more than SLACK of the expected conversions
    p = np.array([0.5, 0.5, 0.5 * (1 - 3 * SLACK)])
    assert sorted(select_within_budget(p, price, 100.0, 2, shares).chosen) == [0, 1]


def test_overlap_search_keeps_budget_count_and_the_slack_on_random_cases():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = 60
        p = rng.uniform(0.01, 0.3, n)
        price = rng.uniform(20, 400, n).round()
        ages = rng.dirichlet(np.ones(4), n)
        ages[rng.random(n) < 0.2] = np.nan
        exact = select_within_budget(p, price, 1000.0, 6, NO_AUDIENCE)
        sel = select_within_budget(p, price, 1000.0, 6, [ages])
        assert sel.total_price <= 1000.0 and len(sel.chosen) <= 6
        assert sel.expected_conversions >= (1 - SLACK) * exact.expected_conversions - 1e-12
        assert sel.objective >= discounted_value(exact.chosen, p, [ages]) - 1e-12


def test_unpriced_candidates_are_refused():
    with pytest.raises(ValueError, match="finite price"):
        select_within_budget(np.array([0.5]), np.array([np.nan]), 10.0, 1, NO_AUDIENCE)
