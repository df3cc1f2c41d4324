"""Tests for the metrics, on tiny fixtures computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recommender import metrics as m


def test_auc_counts_correctly_ordered_pairs():
    # pos 0.35 beats neg 0.1 but not neg 0.4; pos 0.8 beats both -> 3 of 4 pairs
    assert m.auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


def test_auc_with_one_class_is_nan():
    assert math.isnan(m.auc([0, 0, 0], [0.1, 0.2, 0.3]))


def test_log_loss_hand_computed():
    expected = -(math.log(0.8) + math.log(0.6)) / 2
    assert m.log_loss([1, 0], [0.8, 0.4]) == pytest.approx(expected)


def test_brier_hand_computed():
    assert m.brier([1, 0, 1], [0.9, 0.2, 0.5]) == pytest.approx((0.01 + 0.04 + 0.25) / 3)


def test_ece_perfectly_calibrated_is_zero():
    y = [1, 0, 0, 0, 1, 1, 1, 0]
    p = [0.25] * 4 + [0.75] * 4
    assert m.expected_calibration_error(y, p) == pytest.approx(0.0)


def test_ece_confidently_wrong():
    assert m.expected_calibration_error([1, 1, 0, 0], [0.05, 0.05, 0.95, 0.95]) == pytest.approx(
        0.95
    )


def test_ece_two_bins_hand_computed():
    # bin [0, .5): mean score .2, positive rate .5 -> .3; bin [.5, 1]: mean .7, rate 1 -> .3
    assert m.expected_calibration_error(
        [0, 1, 1, 1], [0.1, 0.3, 0.6, 0.8], n_bins=2
    ) == pytest.approx(0.3)


def test_calibration_table_uses_equal_width_bins_and_puts_one_in_last_bin():
    table = m.calibration_table([0, 1, 1, 0], [0.0, 0.19, 1.0, 0.95], n_bins=5)
    assert table["count"].tolist() == [2, 0, 0, 0, 2]
    assert table["upper"].tolist() == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert table["positive_rate"].iloc[0] == pytest.approx(0.5)
    assert math.isnan(table["mean_score"].iloc[1])


def test_ndcg_perfect():
    assert m.ndcg_at_k([1, 0, 0], [0.9, 0.1, 0.2], groups=["a"] * 3, k=2) == pytest.approx(1.0)


def test_ndcg_no_match():
    assert m.ndcg_at_k([0, 0, 1], [0.9, 0.8, 0.1], groups=["a"] * 3, k=2) == pytest.approx(0.0)


def test_ndcg_second_place_is_one_over_log2_of_three():
    assert m.ndcg_at_k([0, 1, 0, 0], [0.9, 0.8, 0.1, 0.0], groups=["a"] * 4,
                       k=3) == pytest.approx(1 / math.log2(3))


def test_ndcg_averages_groups_and_skips_groups_without_positives():
    y = [1, 0, 0, 0] + [0, 1, 0, 0] + [0, 0, 0, 0]
    s = [0.9, 0.1, 0.2, 0.0] + [0.9, 0.8, 0.1, 0.0] + [0.5, 0.4, 0.3, 0.2]
    g = ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    assert m.ndcg_at_k(y, s, groups=g, k=3) == pytest.approx((1 + 1 / math.log2(3)) / 2)


def test_ranking_metrics_are_nan_without_any_positive():
    assert math.isnan(m.ndcg_at_k([0, 0], [0.1, 0.2], groups=["a", "b"], min_rows=1))
    assert math.isnan(m.precision_at_k([0, 0], [0.1, 0.2], groups=["a", "a"], k=1))


def test_precision_and_recall_at_k_hand_computed():
    y, s, g = [1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], ["a"] * 4
    assert m.precision_at_k(y, s, groups=g, k=2) == pytest.approx(0.5)
    assert m.recall_at_k(y, s, groups=g, k=2) == pytest.approx(0.5)
    assert m.recall_at_k(y, s, groups=g, k=3) == pytest.approx(1.0)


def test_precision_at_k_is_hits_over_k_even_when_the_group_is_smaller():
    # two rows, one positive ranked first: 1 hit of k=10 slots, not 1 of min(k, 2)
    assert m.precision_at_k([1, 0], [0.9, 0.1], groups=["a", "a"], k=10,
                            min_rows=1) == pytest.approx(0.1)


def test_ranking_metrics_skip_groups_of_k_rows_or_fewer_where_any_ranking_scores_the_same():
    # group a (3 rows, k=3): every scorer, even the worst, has recall 1 there
    y = [0, 0, 1] + [1, 0, 0, 0, 0]
    worst = [0.9, 0.8, 0.1] + [0.0, 0.5, 0.6, 0.7, 0.8]
    g = ["a"] * 3 + ["b"] * 5
    assert m.recall_at_k(y, worst, groups=g, k=3) == pytest.approx(0.0)  # b only
    assert m.recall_at_k(y, worst, groups=g, k=3, min_rows=1) == pytest.approx(0.5)
    assert m.ranked_groups(y, groups=g, k=3) == 1
    assert math.isnan(m.ndcg_at_k(y[:3], worst[:3], groups=g[:3], k=3))


def test_ties_at_the_cut_off_count_in_expectation_not_row_order():
    # all tied: top 2 of 4 holds 2 * 1/4 = 0.5 positives in expectation, whatever the order
    for y in ([1, 0, 0, 0], [0, 0, 0, 1]):
        assert m.precision_at_k(y, [0.5] * 4, groups=["a"] * 4, k=2) == pytest.approx(0.25)
        assert m.recall_at_k(y, [0.5] * 4, groups=["a"] * 4, k=2) == pytest.approx(0.5)


def test_regret_at_k_is_zero_for_the_true_order_and_measures_the_loss_otherwise():
    p = np.array([0.5, 0.1, 0.3, 0.2])
    g = ["a"] * 4
    assert m.regret_at_k(p, p, groups=g, k=2) == pytest.approx(0.0)
    # picks 0.1 and 0.2 instead of 0.5 and 0.3: mean 0.15 instead of 0.4
    assert m.regret_at_k(p, -p, groups=g, k=2) == pytest.approx(0.25)
    assert math.isnan(m.regret_at_k(p[:2], p[:2], groups=g[:2], k=2))  # no choice to make


def test_within_brand_auc_is_reported_and_ignores_cross_brand_pairs():
    # each brand ranked perfectly, but brand b's scores all sit above brand a's
    y, s = [1, 0, 1, 0], [0.3, 0.2, 0.9, 0.8]
    out = m.evaluate(y, s, brand=["a", "a", "b", "b"])
    assert out["within_brand_auc"] == pytest.approx(1.0)
    assert out["auc"] == pytest.approx(0.75)


def test_within_group_auc_weights_by_pairs_and_ignores_cross_group_negatives():
    y = [1, 0, 0] + [1, 1, 0, 0] + [1, 1]
    s = [0.9, 0.5, 0.95] + [0.7, 0.6, 0.4, 0.65] + [0.0, 0.0]
    g = ["x"] * 3 + ["y"] * 4 + ["z"] * 2
    # x: AUC 0.5 over 2 pairs; y: AUC 0.75 over 4 pairs; z: one class, skipped
    assert m.within_group_auc(y, s, groups=g) == pytest.approx((2 * 0.5 + 4 * 0.75) / 6)
    assert m.auc(y, s) != pytest.approx((2 * 0.5 + 4 * 0.75) / 6)


def test_oracle_lift_share():
    assert m.oracle_lift_share(0.7, 0.9) == pytest.approx(0.5)
    assert m.oracle_lift_share(0.9, 0.9) == pytest.approx(1.0)
    assert math.isnan(m.oracle_lift_share(0.7, 0.5))


def test_gains_curve_hand_computed():
    taken, captured = m.gains_curve([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.2])
    assert taken.tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    assert captured.tolist() == pytest.approx([0, 0.5, 1, 1, 1])


def test_nan_scores_and_length_mismatch_are_errors():
    with pytest.raises(ValueError, match="NaN"):
        m.auc([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="equal length"):
        m.brier([0, 1], [0.1])
    with pytest.raises(ValueError, match="one value per row"):
        m.ndcg_at_k([0, 1], [0.1, 0.2], groups=["a"])


def test_evaluate_returns_every_metric_under_logged_names():
    y, s = [1, 0, 1, 0], [0.9, 0.2, 0.6, 0.4]
    out = m.evaluate(y, s, brand=["a", "a", "b", "b"], niche=["n"] * 4, k=10)
    assert set(out) == {
        "auc", "within_brand_auc", "ndcg_at_10", "precision_at_10", "recall_at_10",
        "within_niche_auc", "log_loss", "brier", "ece",
    }
    assert out["auc"] == pytest.approx(1.0)
    assert math.isnan(out["ndcg_at_10"])  # no brand holds more than 10 rows
    ranking_only = m.evaluate(y, [5, 1, 3, 2], brand=["a"] * 4, probabilities=False)
    assert "log_loss" not in ranking_only and "within_niche_auc" not in ranking_only
