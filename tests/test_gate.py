"""The champion gate's statistics: paired non-inferiority over brands, the fixed floor."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.gate import below_floor, paired_comparison, schema_change


@pytest.fixture(scope="module")
def window():
    rng = np.random.default_rng(3)
    n = 1500
    brand = rng.integers(0, 60, n).astype(str)
    p = rng.uniform(0.05, 0.6, n)
    y = (rng.uniform(size=n) < p).astype(float)
    return y, brand, p


def _by_metric(comparisons):
    return {c.metric: c for c in comparisons}


def test_the_champion_itself_is_non_inferior(window):
    y, brand, p = window
    out = _by_metric(paired_comparison(y, brand, p, p, rounds=50))
    assert all(c.ok for c in out.values())
    assert out["auc"].lower == pytest.approx(0.0)


def test_a_clearly_worse_ranking_fails_on_auc_and_ndcg(window):
    y, brand, p = window
    rng = np.random.default_rng(0)
    noisy = np.clip(p + rng.normal(0, 0.4, len(p)), 0.01, 0.99)
    out = _by_metric(paired_comparison(y, brand, noisy, p, rounds=50))
    assert not out["auc"].ok and not out["ndcg_at_10"].ok
    assert "vs champion" in out["auc"].text()


def test_the_same_ranking_with_worse_calibration_fails_on_log_loss_and_ece(window):
    y, brand, p = window
    inflated = np.clip(p * 1.5, 0.0, 0.99)  # same order, probabilities too high
    out = _by_metric(paired_comparison(y, brand, inflated, p, rounds=50))
    assert out["auc"].ok and out["ndcg_at_10"].ok
    assert not out["log_loss"].ok and not out["ece"].ok


def test_a_metric_that_cannot_be_measured_fails():
    y = np.array([0.0, 0.0, 0.0, 0.0])
    out = _by_metric(paired_comparison(y, np.array(["a", "a", "b", "b"]), np.full(4, 0.1),
                                       np.full(4, 0.1), rounds=10))
    assert not out["auc"].ok  # one class: AUC undefined, never waved through


def test_the_floor_is_the_heuristic_baseline_not_the_champion():
    m = {"auc": 0.70, "ndcg_at_10": 0.50, "baseline_heuristic_auc": 0.71,
         "baseline_heuristic_ndcg_at_10": 0.40}
    failed = below_floor(m)
    assert len(failed) == 1 and failed[0].startswith("auc 0.7000 does not beat the heuristic")
    assert below_floor({**m, "auc": 0.72}) == []


def test_schema_change_names_what_changed():
    assert schema_change(["a", "b"], ["a", "b"]) is None
    text = schema_change(["a", "b"], ["a", "c"])
    assert "removed ['b']" in text and "added ['c']" in text
    assert "new order" in schema_change(["a", "b"], ["b", "a"])
