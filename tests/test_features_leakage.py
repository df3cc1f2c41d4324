"""No leakage: features as of t depend only on rows strictly before t, in every table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_AS_OF

from recommender.features import FEATURE_COLUMNS, build_features, build_training_set
from recommender.features.timeline import Timeline, covered_rows, segment_sums
from recommender.validate import load_dataset


@pytest.fixture(scope="module")
def world(feature_world_dir):
    return load_dataset(feature_world_dir)


def _truncated(ds, as_of: pd.Timestamp):
    """`ds` with every row at or after `as_of` deleted from every timed table."""
    return dataclasses.replace(
        ds,
        posts=ds.posts[ds.posts["posted_at"] < as_of].reset_index(drop=True),
        collaborations=ds.collaborations[
            ds.collaborations["started_at"] < as_of].reset_index(drop=True),
    )


def _sample_pairs(ds, n: int, seed: int) -> pd.DataFrame:
    """Half training pairs (as of their start, where a row sits exactly at as_of), half random
    brand x influencer pairs at random instants."""
    rng = np.random.default_rng(seed)
    collabs = ds.collaborations.sample(n // 2, random_state=seed)
    lo, hi = ds.earliest_timestamp.value, ds.latest_timestamp.value
    random_pairs = pd.DataFrame({
        "brand_id": rng.choice(ds.brands["brand_id"].to_numpy(), n - n // 2),
        "influencer_id": rng.choice(ds.influencers["influencer_id"].to_numpy(), n - n // 2),
        "as_of": pd.to_datetime(rng.integers(lo, hi, n - n // 2), utc=True),
    })
    own = pd.DataFrame({"brand_id": collabs["brand_id"].to_numpy(),
                        "influencer_id": collabs["influencer_id"].to_numpy(),
                        "as_of": collabs["started_at"].to_numpy()})
    return pd.concat([own, random_pairs], ignore_index=True)


def test_features_identical_when_rows_at_or_after_as_of_are_deleted(world):
    pairs = _sample_pairs(world, 24, seed=1)
    full = build_features(world, pairs)
    for i, pair in pairs.iterrows():
        alone = build_features(_truncated(world, pair["as_of"]), pairs.iloc[[i]])
        pd.testing.assert_frame_equal(
            full.iloc[[i]].reset_index(drop=True), alone, check_exact=True,
            obj=f"pair {pair['brand_id']}/{pair['influencer_id']} as of {pair['as_of']}")


def test_own_sponsored_post_at_started_at_never_reaches_features(world):
    train = build_training_set(world)
    posts = world.posts
    # the generated world posts every collaboration's sponsored content exactly at its start
    own = world.collaborations.merge(
        posts[posts["sponsored"]], left_on=["brand_id", "influencer_id", "started_at"],
        right_on=["brand_id", "influencer_id", "posted_at"])
    assert len(own) > 0
    before = posts.merge(train[["collaboration_id", "influencer_id", "as_of"]], on="influencer_id")
    expected = (before[before["posted_at"] < before["as_of"]]
                .groupby("collaboration_id").size()
                .reindex(train["collaboration_id"], fill_value=0))
    assert (train["n_posts"].to_numpy() == expected.to_numpy()).all()


def test_tiny_collaboration_features_exclude_its_own_post_and_itself(tiny_ds):
    train = build_training_set(tiny_ds).set_index("collaboration_id")
    c4 = train.loc["c4"]  # b1 x i1 starting at as_of, with its sponsored post p5 at as_of
    assert c4["n_posts"] == 4 and c4["sponsored_share_90d"] == 0.0
    assert c4["inf_collab_count"] == 2 and c4["pair_collab_count"] == 1
    assert c4["followers_as_of"] == 1100  # not the 1200 recorded on p5


def test_boundary_is_strict_so_lte_would_change_the_features(tiny_ds):
    # Rows sit exactly at TINY_AS_OF. A `<=` boundary equals `<` one nanosecond later, and
    # that gives different features: these tests fail if the boundary became `<=`.
    pairs = pd.DataFrame({"brand_id": ["b1"], "influencer_id": ["i1"], "as_of": [TINY_AS_OF]})
    strict = build_features(tiny_ds, pairs)
    inclusive = build_features(tiny_ds, pairs.assign(as_of=TINY_AS_OF + pd.Timedelta(1, "ns")))
    for col in ("n_posts", "er_mean_30d", "inf_collab_count", "pair_collab_count",
                "followers_as_of", "sponsored_share_90d"):
        assert strict.loc[0, col] != inclusive.loc[0, col], col
    assert strict.loc[0, "n_posts"] == 4 and strict.loc[0, "inf_collab_count"] == 2


def test_timeline_counts_rows_strictly_before_as_of():
    tl = Timeline.build(np.array([0, 0, 0, 1]), np.array([10, 20, 30, 20]), 2)
    start, end = tl.before(np.array([0, 0, 0, 1, 1]), np.array([20, 21, 10, 20, 99]))
    assert (end - start).tolist() == [1, 2, 0, 0, 1]


def test_feature_columns_are_unique_and_all_exported(world):
    assert len(set(FEATURE_COLUMNS)) == len(FEATURE_COLUMNS)
    pairs = _sample_pairs(world, 4, seed=2)
    assert list(build_features(world, pairs).columns) == ["brand_id", "influencer_id", "as_of",
                                                          *FEATURE_COLUMNS]


def test_segment_sums_over_covered_posts_equal_sums_over_all_posts_bit_for_bit():
    rng = np.random.default_rng(3)
    block = np.append(rng.random(1000).astype(np.float32), 0)[None, :]
    bounds = [np.array([10, 500]), np.array([15, 520]), np.array([40, 530])]
    covered = covered_rows(bounds[0], bounds[-1], limit=500)
    assert covered.tolist() == list(range(10, 40)) + list(range(500, 530))
    compact = np.append(block[0, covered], 0)[None, :]
    local = [np.searchsorted(covered, b) for b in bounds]
    few = segment_sums(compact, local, dtype=np.float64)
    every = segment_sums(block, bounds, dtype=np.float64)
    np.testing.assert_array_equal(few, every)
    expected = [[block[0, 10:15].sum(dtype=np.float64), block[0, 15:40].sum(dtype=np.float64)],
                [block[0, 500:520].sum(dtype=np.float64), block[0, 520:530].sum(dtype=np.float64)]]
    np.testing.assert_allclose(every[0], expected, rtol=1e-12)
    assert covered_rows(bounds[0], bounds[-1], limit=60) is None  # too many: use all posts


def _dated_with_later_rows(ds, after: pd.Timestamp, seed: int):
    """`ds` whose influencers carry valid_from: each original row valid from the beginning,
    plus a second row per influencer, valid from `after`, with other followers, price,
    real-follower share and country (what a later scrape would bring)."""
    from recommender.features.attributes import split_dated

    rng = np.random.default_rng(seed)
    first = ds.influencers.assign(valid_from=pd.Series(pd.NaT, index=ds.influencers.index,
                                                       dtype="datetime64[ns, UTC]"))
    later = first.assign(
        valid_from=after,
        followers=first["followers"] * 3 + 1,
        price_per_post=rng.uniform(10, 5000, len(first)),
        real_follower_share=rng.uniform(0, 1, len(first)),
        country="ZZ",
    )
    current, history = split_dated(pd.concat([first, later], ignore_index=True))
    return dataclasses.replace(ds, influencers=current, influencer_history=history)


def test_attribute_rows_valid_only_from_after_as_of_change_no_feature(world):
    pairs = _sample_pairs(world, 24, seed=2)
    cut = pairs["as_of"].max() + pd.Timedelta(seconds=1)
    undated = build_features(world, pairs)
    dated = build_features(_dated_with_later_rows(world, cut, seed=0), pairs)
    pd.testing.assert_frame_equal(undated, dated, check_exact=True)


def test_an_attribute_row_valid_before_as_of_is_the_one_used(world):
    pairs = _sample_pairs(world, 24, seed=3)
    cut = pairs["as_of"].min() - pd.Timedelta(seconds=1)  # every pair sees the later rows
    dated = build_features(_dated_with_later_rows(world, cut, seed=0), pairs)
    undated = build_features(world, pairs)
    assert (dated["price_per_follower"] != undated["price_per_follower"]).any()
    assert (dated["country_match"].dropna() == 0).all()  # every influencer moved to "ZZ"
    assert (undated["country_match"] == 1).any()
    assert not dated["real_follower_share"].equals(undated["real_follower_share"])
