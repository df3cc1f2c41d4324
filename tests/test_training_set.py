"""Training set: one row per collaboration, features as of its start, label converted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_AS_OF, tiny_frames
from sklearn.metrics import roc_auc_score

from recommender.features import (
    FEATURE_COLUMNS,
    brand_profiles,
    build_features,
    build_training_set,
    influencer_features,
    inline_brand_profile,
    pair_context,
    pair_features,
)
from recommender.validate import load_dataset, validate_frames


def test_training_set_has_one_row_per_collaboration_sorted_by_start(tiny_ds):
    train = build_training_set(tiny_ds)
    assert list(train.columns) == ["collaboration_id", "brand_id", "influencer_id", "as_of",
                                   *FEATURE_COLUMNS, "converted"]
    assert train["collaboration_id"].tolist() == ["c1", "c2", "c3", "c4", "c5"]
    assert train["as_of"].is_monotonic_increasing
    assert train["converted"].tolist() == [True, False, True, True, True]


def test_training_rows_equal_features_as_of_each_start(tiny_ds):
    train = build_training_set(tiny_ds)
    c4 = train[train["collaboration_id"] == "c4"].reset_index(drop=True)
    direct = build_features(tiny_ds, pd.DataFrame({"brand_id": ["b1"], "influencer_id": ["i1"],
                                                   "as_of": [TINY_AS_OF]}))
    pd.testing.assert_frame_equal(c4.drop(columns=["collaboration_id", "converted"]), direct)


def test_training_set_needs_collaborations():
    frames = tiny_frames()
    del frames["collaborations"]
    with pytest.raises(ValueError, match="no collaborations"):
        build_training_set(validate_frames(frames))


def test_ranker_pieces_give_the_same_features_as_build_features(tiny_ds, tiny_pairs):
    ctx = pair_context(tiny_ds)
    inf_side = influencer_features(
        tiny_ds, pd.DataFrame({"influencer_id": ["i1", "i2", "i3"], "as_of": TINY_AS_OF}), ctx)
    brand_side = brand_profiles(
        tiny_ds, pd.DataFrame({"brand_id": ["b1", "b2"], "as_of": TINY_AS_OF}), ctx)
    pieces = pair_features(inf_side, brand_side, ctx, tiny_pairs)
    pd.testing.assert_frame_equal(pieces, build_features(tiny_ds, tiny_pairs))


def test_inline_brand_scores_like_the_stored_brand_apart_from_its_record(tiny_ds):
    ctx = pair_context(tiny_ds)
    inf_side = influencer_features(
        tiny_ds, pd.DataFrame({"influencer_id": ["i1", "i2", "i3"], "as_of": TINY_AS_OF}), ctx)
    inline = inline_brand_profile(
        "fitness", "US", {"age": {"18-24": 0.5, "25-34": 0.5}, "gender": {"female": 1.0},
                          "country": {"US": 1.0}}, as_of=TINY_AS_OF, context=ctx, brand_id="new")
    pairs = pd.DataFrame({"brand_id": "new", "influencer_id": ["i1", "i2", "i3"],
                          "as_of": TINY_AS_OF})
    fresh = pair_features(inf_side, inline, ctx, pairs)
    stored = build_features(tiny_ds, pairs.assign(brand_id="b1"))
    record = ["brand_collab_count", "brand_conversion_rate", "pair_collab_count",
              "pair_conversion_rate"]
    same = [c for c in FEATURE_COLUMNS if c not in record]
    pd.testing.assert_frame_equal(fresh[same], stored[same])
    assert (fresh["pair_collab_count"] == 0).all() and stored.loc[0, "pair_collab_count"] == 1


def test_pair_features_refuse_pairs_without_a_matching_side_row(tiny_ds, tiny_pairs):
    ctx = pair_context(tiny_ds)
    inf_side = influencer_features(
        tiny_ds, pd.DataFrame({"influencer_id": ["i1"], "as_of": TINY_AS_OF}), ctx)
    brand_side = brand_profiles(tiny_ds, pd.DataFrame({"brand_id": ["b1"], "as_of": TINY_AS_OF}),
                                ctx)
    with pytest.raises(ValueError, match="no influencer_id row"):
        pair_features(inf_side, brand_side, ctx, tiny_pairs.iloc[:2])


def test_build_features_names_unknown_ids(tiny_ds):
    pairs = pd.DataFrame({"brand_id": ["b1"], "influencer_id": ["nobody"], "as_of": TINY_AS_OF})
    with pytest.raises(ValueError, match="influencer_id not in the data: nobody"):
        build_features(tiny_ds, pairs)


def test_missing_as_of_means_latest_timestamp(tiny_ds):
    f = build_features(tiny_ds, pd.DataFrame({"brand_id": ["b1"], "influencer_id": ["i1"]}))
    assert f.loc[0, "as_of"] == tiny_ds.latest_timestamp
    # the latest timestamp is c5's start, 10 days after TINY_AS_OF: all six i1 posts count
    assert f.loc[0, "as_of"] == TINY_AS_OF + pd.Timedelta(days=10)
    assert f.loc[0, "n_posts"] == 6


def test_track_record_features_carry_signal(feature_world_dir):
    train = build_training_set(load_dataset(feature_world_dir))
    assert len(train) > 300 and 0 < train["converted"].mean() < 1
    for col in ("inf_conversion_rate", "niche_category_rate", "niche_match"):
        known = train[col].notna()
        auc = roc_auc_score(train.loc[known, "converted"], train.loc[known, col])
        assert auc > 0.55, (col, auc)
    numeric = train[FEATURE_COLUMNS].select_dtypes("number").to_numpy(dtype=float)
    assert not np.isinf(numeric).any()  # missing is NaN, never an infinity
