"""Engagement-history features: hand-checked values on the tiny dataset (see conftest)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_AS_OF, tiny_frames

from recommender.features import influencer_features
from recommender.features.engagement import MEDIAN_MAX_POSTS, _window_medians
from recommender.features.timeline import codes_in
from recommender.validate import validate_frames


def _row(frame: pd.DataFrame, influencer_id: str) -> pd.Series:
    return frame.set_index("influencer_id").loc[influencer_id]


@pytest.fixture
def side(tiny_ds) -> pd.DataFrame:
    keys = pd.DataFrame({"influencer_id": ["i1", "i2", "i3"], "as_of": TINY_AS_OF})
    return influencer_features(tiny_ds, keys)


def test_engagement_rate_30d_excludes_post_at_as_of(side):
    # the only i1 post in the 30 days before as_of is at -10d (ER .04); the one at as_of is out
    assert _row(side, "i1")["er_mean_30d"] == pytest.approx(0.04)


def test_engagement_rate_windows_use_followers_at_post(side):
    i1 = _row(side, "i1")
    assert i1["n_posts"] == 4
    assert i1["er_mean_90d"] == pytest.approx((0.02 + 0.04) / 2)
    assert i1["er_mean_365d"] == pytest.approx((0.05 + 0.02 + 0.04) / 3)
    assert i1["er_mean_all"] == pytest.approx((0.10 + 0.05 + 0.02 + 0.04) / 4)


def test_engagement_rate_falls_back_to_followers_without_followers_at_post(side):
    i2 = _row(side, "i2")  # (100 + 0) / 2000 and (300 + 100) / 2000
    assert i2["er_mean_30d"] == pytest.approx((0.05 + 0.2) / 2)
    assert i2["followers_as_of"] == 2000


def test_window_medians_of_engagement_rate(side):
    i1 = _row(side, "i1")
    assert i1["er_median_90d"] == pytest.approx(0.03)
    assert i1["er_median_365d"] == pytest.approx(0.04)
    assert i1["er_median_all"] == pytest.approx((0.04 + 0.05) / 2)


def test_trend_compares_last_90_days_with_the_year_before(side):
    # last 90 days mean .03 against the 90..365-day-old posts: one post, ER .05
    assert _row(side, "i1")["er_trend"] == pytest.approx(0.03 / 0.05)


def test_volatility_is_coefficient_of_variation_over_365_days(side):
    values = np.array([0.05, 0.02, 0.04])
    expected = values.std(ddof=1) / values.mean()
    assert _row(side, "i1")["er_volatility_365d"] == pytest.approx(expected)


def test_views_engagement_only_where_views_exist(side):
    assert _row(side, "i2")["views_er_90d"] == pytest.approx((0.1 + 0.2) / 2)
    assert np.isnan(_row(side, "i1")["views_er_90d"])


def test_cadence_recency_and_follower_growth(side):
    i1 = _row(side, "i1")
    assert i1["posts_per_week_90d"] == pytest.approx(2 / (90 / 7))
    assert i1["days_since_last_post"] == pytest.approx(10)
    assert i1["followers_as_of"] == 1100  # the last post before as_of, not the 1200 at as_of
    # 1100 now against 900 on the last post more than 90 days before as_of
    assert i1["follower_growth_90d"] == pytest.approx(1100 / 900 - 1)
    assert np.isnan(_row(side, "i2")["follower_growth_90d"])


def test_sponsored_engagement_relative_to_organic_and_saturation(side):
    i1 = _row(side, "i1")
    assert i1["sponsored_er_ratio"] == pytest.approx(0.05 / ((0.10 + 0.02 + 0.04) / 3))
    assert i1["sponsored_share_365d"] == pytest.approx(1 / 3)
    assert i1["sponsored_share_90d"] == 0.0  # the sponsored post at as_of does not count


def test_influencer_without_posts_gets_zero_count_and_missing_values(side):
    i3 = _row(side, "i3")
    assert i3["n_posts"] == 0
    for col in ("er_mean_30d", "er_mean_all", "er_median_all", "days_since_last_post",
                "er_volatility_365d", "sponsored_share_90d"):
        assert np.isnan(i3[col]), col
    assert i3["followers_as_of"] == 3000  # the static follower count


def test_features_move_with_as_of():
    ds = validate_frames(tiny_frames())
    later = TINY_AS_OF + pd.Timedelta(days=2)
    keys = pd.DataFrame({"influencer_id": ["i1", "i1"], "as_of": [TINY_AS_OF, later]})
    side = influencer_features(ds, keys)
    assert side["n_posts"].tolist() == [4, 6]  # at as_of+2d the posts at as_of and +1d count
    assert side["as_of"].tolist() == [TINY_AS_OF, later]


def test_missing_optional_columns_give_missing_values_not_errors():
    frames = tiny_frames()
    frames["posts"] = frames["posts"].drop(columns=["views", "followers_at_post", "sponsored",
                                                    "brand_id"])
    ds = validate_frames(frames)
    side = influencer_features(ds, pd.DataFrame({"influencer_id": ["i1"], "as_of": TINY_AS_OF}))
    i1 = side.iloc[0]
    assert i1["er_mean_30d"] == pytest.approx(44 / 5000)  # over the static followers
    assert np.isnan(i1["views_er_90d"]) and np.isnan(i1["follower_growth_90d"])
    assert i1["sponsored_share_365d"] == 0.0 and np.isnan(i1["sponsored_er_ratio"])


def test_window_median_is_capped_at_the_most_recent_posts():
    values = np.arange(100, dtype=float)  # one group, sorted by time
    known = np.ones(100, dtype=np.int8)
    start, end = np.array([0]), np.array([100])
    med = _window_medians(values, known, start, end, {"all": start})["all"]
    recent = values[100 - MEDIAN_MAX_POSTS:]
    assert med[0] == pytest.approx(np.median(recent))
    short = _window_medians(values, known, start, np.array([7]), {"all": start})["all"]
    assert short[0] == pytest.approx(np.median(values[:7]))
    known[6] = 0  # an unknown rate is left out, not counted as a value
    short = _window_medians(values, known, start, np.array([7]), {"all": start})["all"]
    assert short[0] == pytest.approx(np.median(values[:6]))


@pytest.mark.parametrize("order", ["grouped", "shuffled"])
def test_post_influencer_codes_match_the_influencer_table(order):
    index = pd.Index(["a", "b", "007", "c"], dtype="str")
    ids = np.repeat(["c", "007", "a", "c", "zz"], [30, 20, 10, 5, 3])  # zz: unknown
    if order == "shuffled":
        ids = np.random.default_rng(0).permutation(ids)
    codes = codes_in(pd.Series(ids, dtype="str"), index)
    np.testing.assert_array_equal(codes, index.get_indexer(ids))
