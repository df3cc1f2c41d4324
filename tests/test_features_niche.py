"""Niche fit: niche equals category and the shrunk niche x category rate as of, hand-checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_AS_OF, pair_row, tiny_frames

from recommender.features import build_features
from recommender.features.niche import CELL_PRIOR_COLLABORATIONS
from recommender.features.timeline import same_value
from recommender.validate import validate_frames


def test_niche_match_compares_influencer_niche_with_brand_category(tiny_ds, tiny_pairs):
    f = build_features(tiny_ds, tiny_pairs)
    assert pair_row(f, "b1", "i1")["niche_match"] == 1.0  # fitness / fitness
    assert pair_row(f, "b2", "i1")["niche_match"] == 0.0  # fitness / beauty
    assert pair_row(f, "b2", "i2")["niche_match"] == 1.0  # beauty / beauty


def test_niche_category_rate_is_shrunk_toward_global_rate(tiny_ds, tiny_pairs):
    f = build_features(tiny_ds, tiny_pairs)
    k, global_rate = CELL_PRIOR_COLLABORATIONS, 2 / 3  # c1, c2, c3 before as_of; c1, c3 converted
    # fitness x fitness: c1 converted (c4 at as_of does not count)
    assert pair_row(f, "b1", "i1")["niche_category_rate"] == pytest.approx(
        (1 + k * global_rate) / (1 + k))
    # beauty x fitness: c2 did not convert
    assert pair_row(f, "b1", "i2")["niche_category_rate"] == pytest.approx(
        (0 + k * global_rate) / (1 + k))
    # beauty x beauty: no collaboration yet (c5 is after as_of): the global rate itself
    assert pair_row(f, "b2", "i2")["niche_category_rate"] == pytest.approx(global_rate)


def test_niche_category_rate_without_collaborations_is_missing():
    frames = tiny_frames()
    del frames["collaborations"]
    ds = validate_frames(frames)
    f = build_features(ds, pd.DataFrame({"brand_id": ["b1"], "influencer_id": ["i1"],
                                         "as_of": [TINY_AS_OF]}))
    assert f.loc[0, "niche_match"] == 1.0
    assert np.isnan(f.loc[0, "niche_category_rate"])


def test_niche_category_rate_before_any_collaboration_is_missing(tiny_ds):
    early = TINY_AS_OF - pd.Timedelta(days=365)
    f = build_features(tiny_ds, pd.DataFrame({"brand_id": ["b1"], "influencer_id": ["i1"],
                                              "as_of": [early]}))
    assert np.isnan(f.loc[0, "niche_category_rate"])


def test_country_match_is_missing_when_either_country_is_unknown(tiny_ds, tiny_pairs):
    f = build_features(tiny_ds, tiny_pairs)
    assert pair_row(f, "b1", "i1")["country_match"] == 1.0  # US / US
    assert pair_row(f, "b1", "i2")["country_match"] == 0.0  # FR / US
    assert np.isnan(pair_row(f, "b1", "i3")["country_match"])  # i3 has no country
    assert np.isnan(pair_row(f, "b2", "i1")["country_match"])  # b2 has no market


def test_same_value_codes_values_unseen_on_the_other_side():
    a = pd.Series(["x", "y", None, "z"], dtype="str")
    b = pd.Series(["y", None], dtype="str")
    got = same_value(a, np.array([0, 1, 2, 3, 1]), b, np.array([0, 0, 0, 0, 1]))
    np.testing.assert_array_equal(got, [0.0, 1.0, np.nan, 0.0, np.nan])
