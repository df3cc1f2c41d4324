"""The test-window report: cold-start metrics only where they could fail."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.evaluation import cold_start_metrics
from recommender.features import LABEL


def _rows(brands: list[str], labels: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"brand_id": brands, LABEL: np.array(labels, dtype=bool)})


def test_cold_start_reports_no_ranking_metric_where_every_brand_has_k_rows_or_fewer():
    cold = _rows(["a"] * 4 + ["b"] * 3, [1, 0, 0, 0, 0, 1, 0])
    worst = np.array([0.1, 0.9, 0.8, 0.7, 0.9, 0.1, 0.8])  # every positive ranked last
    out = cold_start_metrics(cold, worst)
    assert out["auc"] == 0.0  # AUC can fail here, and does
    assert not {"recall_at_10", "precision_at_10", "ndcg_at_10"} & set(out)


def test_cold_start_ranking_metric_reported_for_a_brand_of_more_than_k_rows():
    cold = _rows(["a"] * 12, [1] + [0] * 11)
    out = cold_start_metrics(cold, np.linspace(0, 1, 12))  # the positive ranked last
    assert out["recall_at_10"] == 0.0


def test_cold_start_with_one_class_reports_nothing():
    assert cold_start_metrics(_rows(["a"] * 3, [0, 0, 0]), np.zeros(3)) == {}
