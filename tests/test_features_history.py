"""Collaboration history as of: influencer, brand and pair track records, hand-checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_AS_OF, pair_row, tiny_frames

from recommender.features import build_features
from recommender.features.history import PRIOR_COLLABORATIONS
from recommender.validate import validate_frames

K = PRIOR_COLLABORATIONS
GLOBAL = 2 / 3  # c1 (converted), c2 (not), c3 (converted) started before as_of


def test_influencer_history_counts_only_collaborations_started_before_as_of(tiny_ds, tiny_pairs):
    i1 = pair_row(build_features(tiny_ds, tiny_pairs), "b1", "i1")
    assert i1["inf_collab_count"] == 2  # c1, c3; c4 starts exactly at as_of
    assert i1["inf_conversion_rate"] == pytest.approx((2 + K * GLOBAL) / (2 + K))
    assert i1["inf_conversions_per_collab"] == pytest.approx((3 + 1) / 2)
    assert i1["days_since_last_collab"] == pytest.approx(30)


def test_brand_and_pair_history(tiny_ds, tiny_pairs):
    f = build_features(tiny_ds, tiny_pairs)
    b1i1 = pair_row(f, "b1", "i1")
    assert b1i1["brand_collab_count"] == 2  # c1, c2
    assert b1i1["brand_conversion_rate"] == pytest.approx((1 + K * GLOBAL) / (2 + K))
    assert b1i1["pair_collab_count"] == 1  # c1
    assert b1i1["pair_conversion_rate"] == pytest.approx((1 + K * GLOBAL) / (1 + K))
    b2i2 = pair_row(f, "b2", "i2")  # c5 starts after as_of
    assert b2i2["pair_collab_count"] == 0
    assert b2i2["pair_conversion_rate"] == pytest.approx(GLOBAL)


def test_influencer_without_collaborations_gets_zero_count_and_prior_rate(tiny_ds, tiny_pairs):
    i3 = pair_row(build_features(tiny_ds, tiny_pairs), "b1", "i3")
    assert i3["inf_collab_count"] == 0
    assert i3["inf_conversion_rate"] == pytest.approx(GLOBAL)
    assert np.isnan(i3["inf_conversions_per_collab"]) and np.isnan(i3["days_since_last_collab"])


def test_absent_collaborations_table_gives_missing_history():
    frames = tiny_frames()
    del frames["collaborations"]
    ds = validate_frames(frames)
    f = build_features(ds, pd.DataFrame({"brand_id": ["b1"], "influencer_id": ["i1"],
                                         "as_of": [TINY_AS_OF]}))
    cols = ["inf_collab_count", "inf_conversion_rate", "brand_collab_count",
            "brand_conversion_rate", "pair_collab_count", "pair_conversion_rate"]
    assert f[cols].isna().all(axis=None)


def test_history_grows_once_as_of_passes_the_start(tiny_ds):
    later = TINY_AS_OF + pd.Timedelta(seconds=1)
    f = build_features(tiny_ds, pd.DataFrame({"brand_id": ["b1", "b1"],
                                              "influencer_id": ["i1", "i1"],
                                              "as_of": [TINY_AS_OF, later]}))
    assert f["inf_collab_count"].tolist() == [2, 3]  # c4 counts one second after its start
    assert f["pair_collab_count"].tolist() == [1, 2]
