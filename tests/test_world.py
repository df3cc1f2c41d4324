"""The synthetic world: contract shape, ids, time, leakage trap, truth and determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from recommender import contract
from recommender.validate import load_dataset
from recommender.world import TABLE_NAMES, generate_world, make_ids
from recommender.world.params import COUNTRIES

PERIOD_START = pd.Timestamp("2025-01-01", tz="UTC")
PERIOD_END = pd.Timestamp("2026-07-01", tz="UTC")


def test_writes_every_contract_table_and_the_truth_file(small_world_dir: Path) -> None:
    files = sorted(p.name for p in small_world_dir.iterdir())
    assert files == sorted(f"{name}.parquet" for name in TABLE_NAMES)
    assert set(TABLE_NAMES) == set(contract.TABLES) | {"truth", "truth_catalogue"}


@pytest.mark.parametrize("table", sorted(contract.TABLES))
def test_columns_are_exactly_the_contract_columns(small_world, table: str) -> None:
    from recommender.world import UNWRITTEN_COLUMNS

    expected = [c for c in contract.TABLES[table].column_names if c not in UNWRITTEN_COLUMNS]
    assert list(small_world[table].columns) == expected


def test_truth_has_one_probability_per_collaboration(small_world) -> None:
    truth, collabs = small_world["truth"], small_world["collaborations"]
    assert list(truth.columns[:2]) == ["collaboration_id", "p_true"]
    assert truth["collaboration_id"].tolist() == collabs["collaboration_id"].tolist()
    assert truth["p_true"].between(0, 1, inclusive="neither").all()


def test_truth_terms_add_up_to_the_true_log_odds(small_world) -> None:
    from recommender.world import params

    truth = small_world["truth"]
    terms = [c for c in truth.columns if c.startswith("logit_")]
    assert {"logit_influencer_effect", "logit_brand_effect", "logit_noise"} <= set(terms)
    logit = np.log(truth["p_true"] / (1 - truth["p_true"]))
    np.testing.assert_allclose(params.CONV_INTERCEPT + truth[terms].sum(axis=1), logit,
                               atol=1e-9)
    # the hidden per-influencer effect is one value per influencer, whatever the booking
    inf = small_world["collaborations"]["influencer_id"]
    assert (truth.groupby(inf)["logit_influencer_effect"].nunique() == 1).all()


@pytest.mark.parametrize("table,key", [("influencers", "influencer_id"), ("brands", "brand_id"),
                                       ("posts", "post_id"),
                                       ("collaborations", "collaboration_id")])
def test_ids_are_unique_non_empty_strings(small_world, table: str, key: str) -> None:
    ids = small_world[table][key]
    assert pd.api.types.is_string_dtype(ids)
    assert ids.is_unique
    assert (ids.str.len() > 0).all()


def test_make_ids_pads_to_a_common_width() -> None:
    assert make_ids("p", 11).tolist() == [f"p{i:02d}" for i in range(11)]
    assert make_ids("b", 1).tolist() == ["b0"]


def test_the_lead_validator_accepts_the_world_without_warnings(small_world_dir, small_world):
    ds = load_dataset(small_world_dir)
    assert ds.warnings == []
    assert len(ds.rejects) == 0
    for table in contract.TABLES:
        assert len(getattr(ds, table)) == len(small_world[table])


def test_timestamps_are_utc_and_inside_the_18_months(small_world) -> None:
    for table, column in (("posts", "posted_at"), ("collaborations", "started_at")):
        ts = small_world[table][column]
        assert str(ts.dt.tz) == "UTC"
        assert ts.min() >= PERIOD_START
        assert ts.max() < PERIOD_END


def test_collaborations_are_spread_over_every_month(small_world) -> None:
    collabs = small_world["collaborations"]
    per_month = collabs["started_at"].dt.tz_localize(None).dt.to_period("M").value_counts()
    assert len(per_month) == 18
    per_brand_month = per_month / len(small_world["brands"])
    assert per_brand_month.between(2.5, 7.0).all()


def test_every_collaboration_has_its_sponsored_post_at_exactly_started_at(small_world) -> None:
    posts, collabs = small_world["posts"], small_world["collaborations"]
    sponsored = posts[posts["sponsored"]]
    matched = collabs.merge(
        sponsored, left_on=["influencer_id", "brand_id", "started_at"],
        right_on=["influencer_id", "brand_id", "posted_at"], how="left", indicator=True,
    )
    assert (matched["_merge"] == "both").all()
    assert len(matched) == len(collabs) == len(sponsored)
    assert posts.loc[~posts["sponsored"], "brand_id"].isna().all()


def test_sponsored_posts_of_converted_collaborations_engage_more(small_world) -> None:
    posts, collabs = small_world["posts"], small_world["collaborations"]
    sp = collabs.merge(posts, left_on=["influencer_id", "started_at"],
                       right_on=["influencer_id", "posted_at"])
    rate = (sp["likes"] + sp["comments"]) / sp["followers_at_post"]
    converted = sp["conversions"] > 0
    assert rate[converted].median() > 1.5 * rate[~converted].median()


def test_conversions_follow_the_true_probability(small_world) -> None:
    collabs = small_world["collaborations"].merge(small_world["truth"], on="collaboration_id")
    converted = collabs["conversions"] > 0
    assert abs(collabs["p_true"].mean() - converted.mean()) < 0.03
    assert roc_auc_score(converted, collabs["p_true"]) > 0.7


def test_references_between_tables_resolve(small_world) -> None:
    infl, brands = set(small_world["influencers"]["influencer_id"]), set(
        small_world["brands"]["brand_id"])
    for table in ("posts", "collaborations", "audience"):
        assert set(small_world[table]["influencer_id"]) <= infl
    for table in ("collaborations", "brand_audience"):
        assert set(small_world[table]["brand_id"]) <= brands
    assert set(small_world["posts"]["brand_id"].dropna()) <= brands


@pytest.mark.parametrize("table,key", [("audience", "influencer_id"),
                                       ("brand_audience", "brand_id")])
def test_audience_shares_use_the_segments_and_sum_to_at_most_one(small_world, table, key):
    aud = small_world[table]
    segments = {"age": set(contract.AGE_SEGMENTS), "gender": set(contract.GENDER_SEGMENTS),
                "country": set(COUNTRIES)}
    for dim, allowed in segments.items():
        assert set(aud.loc[aud["dimension"] == dim, "segment"]) <= allowed
    sums = aud.groupby([key, "dimension"])["share"].sum().unstack()
    assert (sums <= 1.0).all().all()
    assert (sums[["age", "gender"]] > 0.99).all().all()
    assert (sums["country"] < 0.999).mean() > 0.5  # a long tail of unlisted countries
    assert len(sums) == len(small_world["influencers" if key == "influencer_id" else "brands"])


def test_views_are_reported_on_video_platforms_and_some_instagram_posts(small_world) -> None:
    posts = small_world["posts"].merge(small_world["influencers"][["influencer_id", "platform"]])
    has_views = posts["views"].notna().groupby(posts["platform"]).mean()
    assert has_views["tiktok"] == 1.0 and has_views["youtube"] == 1.0
    assert 0.1 < has_views["instagram"] < 0.9


def test_followers_at_post_grow_or_shrink_towards_current_followers(small_world) -> None:
    posts = small_world["posts"].merge(small_world["influencers"][["influencer_id", "followers"]])
    ratio = posts["followers_at_post"] / posts["followers"]
    last_days = posts["posted_at"] >= PERIOD_END - pd.Timedelta(days=2)
    assert (ratio[last_days] - 1).abs().max() < 0.01
    first_month = posts["posted_at"] < PERIOD_START + pd.Timedelta(days=30)
    early = ratio[first_month]
    assert (early < 0.95).mean() > 0.3 and (early > 1.02).mean() > 0.05


def test_post_cadence_varies_from_a_few_a_month_to_several_a_week(small_world) -> None:
    per_week = small_world["posts"].groupby("influencer_id").size() / (78 * 1.0)
    assert per_week.quantile(0.1) < 0.6
    assert per_week.quantile(0.9) > 2.5
    assert 100 < len(small_world["posts"]) / len(small_world["influencers"]) < 200


def test_repeat_collaborations_are_common(small_world) -> None:
    collabs = small_world["collaborations"].sort_values("started_at")
    seen_before = collabs.duplicated("influencer_id")
    same_brand_before = collabs.duplicated(["influencer_id", "brand_id"])
    assert seen_before.mean() > 0.4
    assert same_brand_before.mean() > 0.15


def _file_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    args = {"n_influencers": 300, "n_brands": 12, "months": 6}
    first = generate_world(tmp_path / "a", seed=3, **args)
    generate_world(tmp_path / "b", seed=3, **args)
    generate_world(tmp_path / "c", seed=4, **args)
    a, b, c = (_file_bytes(tmp_path / x) for x in "abc")
    assert set(first) == set(TABLE_NAMES) and len(a) == len(TABLE_NAMES)
    assert a == b
    assert all(a[name] != c[name] for name in a)


def test_a_shorter_world_ends_on_the_same_day(tmp_path: Path) -> None:
    generate_world(tmp_path, n_influencers=100, n_brands=5, months=3, seed=1)
    posts = pd.read_parquet(tmp_path / "posts.parquet")
    assert posts["posted_at"].min() >= pd.Timestamp("2026-04-01", tz="UTC")
    assert posts["posted_at"].max() < PERIOD_END


@pytest.mark.parametrize("kwargs", [{"n_influencers": 0}, {"n_brands": 0}, {"months": 0}])
def test_rejects_empty_worlds_with_a_clear_message(tmp_path: Path, kwargs) -> None:
    with pytest.raises(ValueError, match=f"{next(iter(kwargs))} must be at least 1"):
        generate_world(tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())


def test_generation_does_not_depend_on_global_numpy_state(tmp_path: Path) -> None:
    np.random.seed(0)
    generate_world(tmp_path / "a", n_influencers=50, n_brands=3, months=2, seed=5)
    np.random.seed(99)
    generate_world(tmp_path / "b", n_influencers=50, n_brands=3, months=2, seed=5)
    assert _file_bytes(tmp_path / "a") == _file_bytes(tmp_path / "b")


def test_bookings_are_capped_when_brands_far_outnumber_influencers(tmp_path: Path) -> None:
    generate_world(tmp_path, n_influencers=20, n_brands=100, months=6, seed=2)
    collabs = pd.read_parquet(tmp_path / "collaborations.parquet")
    assert 0 < len(collabs) <= 1.0 * 20 * 6
