"""Tests for the baseline scorers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender import baselines as b
from recommender import metrics
from recommender.errors import UserError


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    train = pd.DataFrame(
        {
            "niche": ["food", "pets", "food", "pets"],
            "category": ["food", "food", "food", "food"],
            "er_mean_90d": [0.01, 0.03, 0.01, 0.03],
            "audience_match_mean": [0.2, 0.4, 0.2, 0.4],
            "followers_as_of": [10.0, 20.0, 30.0, np.nan],
            "converted": [1, 0, 1, 0],
        }
    )
    test = pd.DataFrame(
        {
            "niche": ["Food", "pets", None],
            "category": ["food", "food", "food"],
            "er_mean_90d": [0.04, np.nan, 0.02],
            "audience_match_mean": [0.3, 0.1, 0.3],
            "followers_as_of": [5.0, np.nan, 50.0],
        }
    )
    return train, test


def test_random_is_seeded_and_uniform():
    train, test = _frames()
    a = b.random_score(train, test, seed=1)
    assert len(a) == 3 and ((0 <= a) & (a < 1)).all()
    np.testing.assert_array_equal(a, b.random_score(train, test, seed=1))
    assert not np.array_equal(a, b.random_score(train, test, seed=2))


def test_follower_count_fills_missing_with_training_median():
    train, test = _frames()
    assert b.follower_count_score(train, test).tolist() == [5.0, 20.0, 50.0]


def test_engagement_rate_column_is_configurable():
    train, test = _frames()
    assert b.engagement_rate_score(train, test).tolist() == pytest.approx([0.04, 0.02, 0.02])
    other = b.engagement_rate_score(train, test, column="audience_match_mean")
    assert other.tolist() == [0.3, 0.1, 0.3]


def test_heuristic_sums_equal_weight_z_scores_hand_computed():
    train, test = _frames()
    # train: niche match mean .5 sd .5; er mean .02 sd .01; audience mean .3 sd .1
    # row 0: match (case-insensitive) +1, er .04 +2, audience .3 0   -> 3
    # row 1: no match -1, er missing -> median .02 -> 0, audience .1 -2 -> -3
    # row 2: niche missing = no match -1, er .02 0, audience .3 0       -> -1
    assert b.heuristic_score(train, test).tolist() == pytest.approx([3.0, -3.0, -1.0])
    without_audience = b.heuristic_score(train, test, audience_column=None)
    assert without_audience.tolist() == pytest.approx([3.0, -1.0, -1.0])


def test_missing_column_is_named():
    train, test = _frames()
    with pytest.raises(UserError, match="er_30d"):
        b.engagement_rate_score(train, test, column="er_30d")


def _signal_frames(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    platform = rng.choice(["instagram", "tiktok"], n)
    logit = 1.5 * x + np.where(platform == "tiktok", 1.0, -1.0)
    x[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "platform": pd.array(platform, dtype="string"),
            "converted": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )


def test_logistic_regression_learns_and_survives_missing_and_unseen_values():
    train, test = _signal_frames(400, 1), _signal_frames(300, 2)
    test.loc[test.index[:5], "platform"] = "youtube"  # unseen in training
    before = test.copy()
    p = b.logistic_regression_score(
        train, test, features=["x", "platform"], categorical=["platform"]
    )
    pd.testing.assert_frame_equal(test, before)
    assert ((0 < p) & (p < 1)).all() and len(p) == 300
    assert metrics.auc(test["converted"], p) > 0.75


def test_logistic_regression_needs_both_classes():
    train = _signal_frames(50, 1).assign(converted=0)
    with pytest.raises(UserError, match="one class"):
        b.logistic_regression_score(train, train, features=["x"])


def test_default_baselines_leave_out_those_without_their_column():
    cats = ["niche", "category"]
    scorers = b.default_baselines(["followers_as_of", "niche", "category", "x"], cats)
    assert sorted(scorers) == ["followers", "logistic_regression", "random"]
    train, test = _frames()
    everything = b.default_baselines(
        ["followers_as_of", "niche", "category", "er_mean_90d", "audience_match_mean"], cats
    )
    assert sorted(everything) == [
        "engagement_rate", "followers", "heuristic", "logistic_regression", "random",
    ]
    assert everything["heuristic"](train, test).tolist() == pytest.approx([3.0, -3.0, -1.0])
    assert len(everything["logistic_regression"](train, test)) == 3
