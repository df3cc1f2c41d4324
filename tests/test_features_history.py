"""Collaboration history as of: influencer, brand and pair track records, hand-checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_AS_OF, pair_row, tiny_frames

from recommender.features import build_features
from recommender.features.history import PRIOR_COLLABORATIONS
from recommender.validate import ValidationError, validate_frames

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


def _without_settled_at(conversions_of_c3: int):
    frames = tiny_frames()
    c = frames["collaborations"].drop(columns="settled_at")
    c.loc[c["collaboration_id"] == "c3", "conversions"] = conversions_of_c3
    frames["collaborations"] = c
    return validate_frames(frames)


def test_an_outcome_inside_the_outcome_lag_is_not_seen(tiny_pairs):
    from recommender.features import pair_context

    # c3 (i1 x b2) started 30 days before as_of: with a 31-day lag its outcome is unsettled
    rates = {}
    for lag in (0, 31):
        for conversions in (0, 7):
            ds = _without_settled_at(conversions)
            f = build_features(ds, tiny_pairs, pair_context(ds, lag))
            rates[lag, conversions] = pair_row(f, "b1", "i1")
    for col in ("inf_conversion_rate", "inf_conversions_per_collab", "niche_category_rate"):
        assert rates[31, 0][col] == rates[31, 7][col], col
    assert rates[0, 0]["inf_conversion_rate"] != rates[0, 7]["inf_conversion_rate"]
    # the collaboration itself still counts as having happened
    assert rates[31, 0]["inf_collab_count"] == 2 and rates[31, 0]["days_since_last_collab"] == 30


def test_settled_at_overrides_the_outcome_lag(tiny_ds, tiny_pairs):
    from recommender.features import pair_context

    late = tiny_frames()
    c = late["collaborations"]
    c.loc[c["collaboration_id"] == "c1", "settled_at"] = TINY_AS_OF.isoformat()  # not yet
    ds = validate_frames(late)
    f = pair_row(build_features(ds, tiny_pairs, pair_context(ds, 0)), "b1", "i1")
    assert f["inf_conversions_per_collab"] == pytest.approx(1.0)  # c3 only: c1 unsettled
    assert f["inf_collab_count"] == 2


def test_a_settled_at_before_started_at_is_refused():
    frames = tiny_frames()
    frames["collaborations"].loc[0, "settled_at"] = _days_before_start(frames)
    with pytest.raises(ValidationError, match="column 'settled_at'.*before started_at"):
        validate_frames(frames)


def _days_before_start(frames) -> str:
    start = pd.Timestamp(frames["collaborations"].loc[0, "started_at"])
    return (start - pd.Timedelta(days=1)).isoformat()
