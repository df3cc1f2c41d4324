"""Price features: price per follower and per expected engagement, hand-checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_AS_OF, pair_row, tiny_frames

from recommender.features import build_features
from recommender.validate import validate_frames


def test_price_per_follower_uses_followers_as_of(tiny_ds, tiny_pairs):
    f = build_features(tiny_ds, tiny_pairs)
    assert pair_row(f, "b1", "i1")["price_per_follower"] == pytest.approx(110 / 1100)
    assert pair_row(f, "b1", "i3")["price_per_follower"] == pytest.approx(50 / 3000)


def test_cost_per_engagement_over_the_last_year_of_posts(tiny_ds, tiny_pairs):
    f = build_features(tiny_ds, tiny_pairs)
    # i1's posts in the 365 days before as_of had 45, 20 and 44 likes + comments
    assert pair_row(f, "b1", "i1")["cost_per_engagement"] == pytest.approx(
        110 / ((45 + 20 + 44) / 3))
    assert np.isnan(pair_row(f, "b1", "i3")["cost_per_engagement"])  # no posts
    assert np.isnan(pair_row(f, "b1", "i2")["price_per_follower"])  # no price


def test_absent_price_column_gives_missing_values():
    frames = tiny_frames()
    frames["influencers"] = frames["influencers"].drop(columns=["price_per_post"])
    ds = validate_frames(frames)
    f = build_features(ds, pd.DataFrame({"brand_id": ["b1"], "influencer_id": ["i1"],
                                         "as_of": [TINY_AS_OF]}))
    assert np.isnan(f.loc[0, "price_per_follower"]) and np.isnan(f.loc[0, "cost_per_engagement"])
