"""Audience features: match (histogram intersection), lift, quality and reach, hand-checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_AS_OF, pair_row, tiny_frames

from recommender.features import build_features, inline_brand_profile, pair_context
from recommender.features.audience import shares_wide
from recommender.validate import validate_frames


def test_audience_match_is_histogram_intersection_per_dimension(tiny_ds, tiny_pairs):
    f = build_features(tiny_ds, tiny_pairs)
    b1i1 = pair_row(f, "b1", "i1")
    assert b1i1["audience_match_age"] == pytest.approx(min(0.6, 0.5) + min(0.4, 0.5))
    assert b1i1["audience_match_gender"] == pytest.approx(0.7)
    assert b1i1["audience_match_country"] == pytest.approx(0.8)
    assert b1i1["audience_match_mean"] == pytest.approx((0.9 + 0.7 + 0.8) / 3)
    b1i2 = pair_row(f, "b1", "i2")  # i2 has no country audience: that dimension is unknown
    assert b1i2["audience_match_age"] == pytest.approx(0.2 + 0.5)
    assert np.isnan(b1i2["audience_match_country"])
    assert b1i2["audience_match_mean"] == pytest.approx((0.7 + 0.4) / 2)


def test_target_lift_against_catalogue_average(tiny_ds, tiny_pairs):
    f = build_features(tiny_ds, tiny_pairs)
    b1i1 = pair_row(f, "b1", "i1")
    # catalogue average over i1 and i2: 18-24 .4, 25-34 .45; female .55; US .8 (i1 only)
    expected_age = (0.5 * 0.6 + 0.5 * 0.4) / (0.5 * 0.4 + 0.5 * 0.45)
    assert b1i1["target_lift_age"] == pytest.approx(expected_age)
    assert b1i1["target_lift_gender"] == pytest.approx(0.7 / 0.55)
    assert b1i1["target_lift_country"] == pytest.approx(1.0)


def test_no_audience_or_no_target_gives_missing_match(tiny_ds, tiny_pairs):
    f = build_features(tiny_ds, tiny_pairs)
    for brand, influencer in (("b1", "i3"), ("b2", "i1")):
        row = pair_row(f, brand, influencer)
        for col in ("audience_match_age", "audience_match_mean", "target_lift_gender"):
            assert np.isnan(row[col]), (brand, influencer, col)


def test_absent_audience_tables_give_missing_values():
    frames = tiny_frames()
    del frames["audience"], frames["brand_audience"]
    ds = validate_frames(frames)
    f = build_features(ds, pd.DataFrame({"brand_id": ["b1"], "influencer_id": ["i1"],
                                         "as_of": [TINY_AS_OF]}))
    assert f[["audience_match_age", "audience_match_mean", "target_lift_country"]].isna().all(
        axis=None)


def test_audience_quality_and_effective_reach(tiny_ds, tiny_pairs):
    f = build_features(tiny_ds, tiny_pairs)
    i1 = pair_row(f, "b1", "i1")
    assert i1["real_follower_share"] == pytest.approx(0.9)
    assert i1["effective_reach"] == pytest.approx(1100 * 0.9 * (0.05 + 0.02 + 0.04) / 3)
    assert np.isnan(pair_row(f, "b1", "i3")["effective_reach"])  # no real share, no posts


def test_shares_wide_marks_unknown_dimensions_missing_and_absent_segments_zero(tiny_ds):
    wide = shares_wide(tiny_ds.audience, "influencer_id", tiny_ds.influencers["influencer_id"],
                       "aud:")
    assert wide.loc[0, "aud:age:35-44"] == 0.0  # i1 describes age, without 35-44
    assert wide.loc[1, "aud:age:35-44"] == pytest.approx(0.3)
    assert np.isnan(wide.loc[1, "aud:country:US"])  # i2 has no country rows
    assert wide.loc[2].isna().all()  # i3 has no audience at all


def test_inline_brand_target_matches_like_a_stored_brand(tiny_ds):
    ctx = pair_context(tiny_ds)
    inline = inline_brand_profile(
        "Fitness", "us", {"age": {"18-24": 0.5, "25-34": 0.5}, "gender": {"Female": 1.0},
                          "country": {"us": 1.0}}, as_of=TINY_AS_OF, context=ctx)
    assert inline.loc[0, "category"] == "fitness" and inline.loc[0, "brand_country"] == "US"
    assert inline.loc[0, "tgt:gender:female"] == 1.0 and inline.loc[0, "tgt:country:US"] == 1.0
    assert inline.loc[0, "brand_collab_count"] == 0
    # no track record: the brand's rate is the global rate as of (2 of 3 converted)
    assert inline.loc[0, "brand_conversion_rate"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("target, message", [
    ({"height": {"tall": 1.0}}, "dimension"),
    ({"age": {"18-24": 1.5}}, "in \\[0, 1\\]"),
    ({"age": {"18-24": 0.7, "25-34": 0.6}}, "add up"),
])
def test_inline_brand_rejects_bad_targets_with_a_clear_message(target, message):
    with pytest.raises(ValueError, match=message):
        inline_brand_profile("beauty", None, target, as_of=TINY_AS_OF)
