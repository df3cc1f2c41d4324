"""Tests for the ranker: snapshot, filters, first stage, scores, reasons, budget, bad briefs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recommender.errors import UserError
from recommender.explain import phrase, reasons
from recommender.features import build_features, pair_features
from recommender.ranker import BUDGET_COLUMNS, OUTPUT_COLUMNS, Ranker


@pytest.fixture(scope="module")
def ranker(ranker_parts) -> Ranker:
    return Ranker(ranker_parts["model"], ranker_parts["snapshot_dir"])


def _brief(**fields) -> pd.DataFrame:
    return pd.DataFrame([fields])


# ----------------------------------------------------------------------------- snapshot
def test_snapshot_keeps_collaborations_strictly_before_as_of_and_no_posts(ranker_parts):
    snap = ranker_parts["snapshot_dir"]
    meta = json.loads((snap / "snapshot.json").read_text())
    ds = ranker_parts["ds"]
    assert pd.Timestamp(meta["as_of"]) == ds.latest_timestamp
    collabs = pd.read_parquet(snap / "collaborations.parquet")
    assert (collabs["started_at"] < ds.latest_timestamp).all()
    assert len(collabs) == int((ds.collaborations["started_at"] < ds.latest_timestamp).sum())
    assert meta["row_counts"]["influencers"] == len(ds.influencers)
    assert not (snap / "posts.parquet").exists()
    first_stage = json.loads((snap / "first_stage.json").read_text())  # plain JSON numbers
    assert all(isinstance(f["weights"], list) for f in first_stage["features"])


def test_scores_equal_the_models_batch_scores_of_the_same_pairs(ranker, ranker_parts):
    ds, model = ranker_parts["ds"], ranker_parts["model"]
    brand = ds.brands["brand_id"].iloc[2]
    out = ranker.recommend(_brief(brand_id=brand), top_n=8)
    pairs = pd.DataFrame({"brand_id": brand, "influencer_id": out["influencer_id"],
                          "as_of": ds.latest_timestamp})
    expected = model.predict_proba(build_features(ds, pairs)[model.features_])
    np.testing.assert_array_equal(out["score"].to_numpy(), expected)  # bit for bit
    assert list(out["rank"]) == list(range(1, 9))
    assert (np.diff(out["score"].to_numpy()) <= 0).all()
    assert list(out.columns) == OUTPUT_COLUMNS
    assert set(out["as_of"]) == {ds.latest_timestamp.isoformat()}


# ----------------------------------------------------------------------------- filters
def test_filters_keep_exactly_the_matching_influencers(ranker, ranker_parts):
    inf = ranker_parts["ds"].influencers
    row = inf.dropna(subset=["country", "price_per_post"]).iloc[0]
    excluded = inf["influencer_id"].iloc[:3].tolist()
    brief = dict(brand_id=ranker_parts["ds"].brands["brand_id"].iloc[0],
                 platform=row["platform"].upper(), country=row["country"].lower(),
                 niche=row["niche"], min_followers=2_000, max_followers=80_000,
                 max_price=float(inf["price_per_post"].median()),
                 exclude_influencer_ids=excluded)
    expected = inf[(inf["platform"] == row["platform"]) & (inf["country"] == row["country"])
                   & (inf["niche"] == row["niche"]) & inf["followers"].between(2_000, 80_000)
                   & (inf["price_per_post"] <= brief["max_price"])
                   & ~inf["influencer_id"].isin(excluded)]
    out = ranker.recommend(_brief(**brief), top_n=1000)
    assert sorted(out["influencer_id"]) == sorted(expected["influencer_id"])


def test_default_follower_filter_is_micro_influencers(ranker, ranker_parts):
    inf = ranker_parts["ds"].influencers
    out = ranker.recommend(_brief(brand_id="b00"), top_n=1000)
    assert out["followers"].between(1_000, 100_000).all()
    assert len(out) == int(inf["followers"].between(1_000, 100_000).sum())


def test_brief_with_no_matching_influencer_returns_an_empty_table(ranker):
    out = ranker.recommend(_brief(brand_id="b00", min_followers=10**9, max_followers=10**9))
    assert out.empty and list(out.columns) == OUTPUT_COLUMNS


# ----------------------------------------------------------------------------- first stage
def test_first_stage_pair_values_equal_the_pair_features(ranker, ranker_parts):
    ds = ranker_parts["ds"]
    rows = np.arange(0, len(ds.influencers), 3)
    inline = ranker.brand_profile(ranker_parts_brief(ranker, category="beauty",
                                                    brand_country="US",
                                                    target_age={"18-24": 0.7, "25-34": 0.3}))
    for brand in (ranker.brands.iloc[[4]].reset_index(drop=True), inline):
        fast = ranker.first_stage.pair_values(rows, brand)
        side = ranker.side.take(rows).reset_index(drop=True)
        pairs = pd.DataFrame({"brand_id": brand["brand_id"].iloc[0],
                              "influencer_id": side["influencer_id"], "as_of": ranker.as_of})
        exact = pair_features(side, brand, ranker.context, pairs)
        for name, values in fast.items():
            np.testing.assert_allclose(values, exact[name].to_numpy(np.float64), rtol=1e-5,
                                       equal_nan=True, err_msg=name)


def test_pre_encoded_rows_equal_the_encoded_pair_features_bit_for_bit(ranker, ranker_parts):
    ds, model = ranker_parts["ds"], ranker_parts["model"]
    rows = np.arange(1, len(ds.influencers), 2)
    with_history = ds.collaborations["brand_id"].value_counts().index[0]  # pair history too
    for brief in (ranker_parts_brief(ranker, brand_id=with_history),
                  ranker_parts_brief(ranker, category="beauty", brand_country="US",
                                     target_age={"18-24": 0.7, "25-34": 0.3})):
        profile = ranker.brand_profile(brief)
        side = ranker.side.take(rows).reset_index(drop=True)
        pairs = pd.DataFrame({"brand_id": profile["brand_id"].iloc[0],
                              "influencer_id": side["influencer_id"], "as_of": ranker.as_of})
        exact = model.feature_matrix(pair_features(side, profile, ranker.context, pairs))
        fast = ranker.encoded.rows(rows, ranker.brand_side(brief))
        np.testing.assert_array_equal(fast, exact)
    assert np.nansum(exact[:, model.features_.index("pair_collab_count")]) == 0  # inline
    known = ranker.encoded.rows(rows, ranker.brand_side(ranker_parts_brief(
        ranker, brand_id=with_history)))
    assert np.nansum(known[:, model.features_.index("pair_collab_count")]) > 0


def ranker_parts_brief(ranker: Ranker, **fields):
    from recommender.briefs import parse_briefs

    return parse_briefs(_brief(**fields), ranker.brand_index, ranker.niches)[0]


def test_small_shortlist_finds_nearly_the_same_top_5_as_brute_force(ranker_parts):
    small = Ranker(ranker_parts["model"], ranker_parts["snapshot_dir"], shortlist_size=40)
    recalls = []
    for brand in ranker_parts["ds"].brands["brand_id"]:
        fast = small.recommend(_brief(brand_id=brand), top_n=5)
        full = small.recommend(_brief(brand_id=brand), top_n=5, exhaustive=True)
        recalls.append(len(set(fast["influencer_id"]) & set(full["influencer_id"])) / 5)
    assert np.mean(recalls) >= 0.9


def test_influencers_with_a_track_record_with_the_brand_are_always_scored(ranker_parts):
    ds = ranker_parts["ds"]
    tiny = Ranker(ranker_parts["model"], ranker_parts["snapshot_dir"], shortlist_size=1)
    brand = ds.collaborations["brand_id"].value_counts().index[0]
    past = set(ds.collaborations.loc[ds.collaborations["brand_id"] == brand, "influencer_id"])
    eligible = set(ds.influencers.loc[ds.influencers["followers"].between(1_000, 100_000),
                                      "influencer_id"])
    out = tiny.recommend(_brief(brand_id=brand), top_n=1)  # k = max(1, 3 * top_n) = 3
    scored = tiny._shortlist(tiny._mask(ranker_parts_brief(tiny, brand_id=brand)),
                             tiny.brand_side(ranker_parts_brief(tiny, brand_id=brand)),
                             ranker_parts_brief(tiny, brand_id=brand), 1, False)
    assert past & eligible <= set(tiny.ids[scored]) and len(out) == 1


# ----------------------------------------------------------------------------- inline, as_of
def test_inline_brand_is_ranked_and_keeps_its_given_id(ranker):
    out = ranker.recommend(_brief(brand_id="new-brand", category="Fitness",
                                  target_gender={"female": 0.8, "male": 0.2}), top_n=4)
    assert len(out) == 4 and set(out["brand_id"]) == {"new-brand"}
    out = ranker.recommend(_brief(category="fitness"), top_n=2)
    assert len(out) == 2 and out["brand_id"].isna().all()


def test_later_as_of_advances_time_since_features_and_is_reported(ranker, ranker_parts):
    brand = ranker_parts["ds"].brands["brand_id"].iloc[1]
    brief = ranker_parts_brief(ranker, brand_id=brand)
    rows = ranker.candidates(brief)[:5]
    side = ranker.brand_side(brief)
    now, later = ranker.encoded.rows(rows, side), ranker.encoded.rows(rows, side, 10.0)
    col = ranker.encoded.position
    np.testing.assert_allclose(later[:, col["days_since_last_post"]],
                               now[:, col["days_since_last_post"]] + 10)
    np.testing.assert_array_equal(later[:, col["er_mean_30d"]], now[:, col["er_mean_30d"]])
    when = (ranker.as_of + pd.Timedelta(days=10)).isoformat()
    out = ranker.recommend(_brief(brand_id=brand), top_n=2, as_of=when)
    assert set(out["as_of"]) == {when} and set(out["snapshot_as_of"]) == {
        ranker.as_of.isoformat()}


# ----------------------------------------------------------------------------- bad requests
def test_as_of_is_answered_up_to_the_horizon_after_the_data_and_refused_past_it(ranker):
    from recommender.config import AS_OF_HORIZON_DAYS

    edge = ranker.as_of + pd.Timedelta(days=AS_OF_HORIZON_DAYS)
    out = ranker.recommend(_brief(brand_id="b00"), top_n=1, as_of=edge.isoformat())
    assert list(out["as_of"]) == [edge.isoformat()]
    late = (edge + pd.Timedelta(seconds=1)).isoformat()
    with pytest.raises(UserError) as info:
        ranker.recommend(_brief(brand_id="b00"), top_n=1, as_of=late)
    assert ranker.as_of.isoformat() in str(info.value)  # names the data's end
    assert edge.isoformat() in str(info.value)  # and the latest instant it answers


@pytest.mark.parametrize("fields, params, words", [
    ({"brand_id": "nope"}, {}, ["brand_id", "'nope'", "category"]),
    ({}, {}, ["brand_id is required"]),
    ({"brand_id": 5}, {}, ["brand_id", "5", "string"]),
    ({"brand_id": "b00", "platform": "myspace"}, {}, ["platform", "'myspace'"]),
    ({"brand_id": "b00", "min_followers": 50_000, "max_followers": 10_000}, {},
     ["min_followers = 50000", "max_followers = 10000"]),
    ({"brand_id": "b00", "min_followers": 1.5}, {}, ["min_followers", "1.5"]),
    ({"brand_id": "b00", "min_followers": "7"}, {}, ["min_followers", "'7'"]),
    ({"brand_id": "b00", "max_followers": True}, {}, ["max_followers", "True"]),
    ({"brand_id": "b00", "max_price": -3}, {}, ["max_price", "-3"]),
    ({"brand_id": "b00", "country": "USA"}, {}, ["country", "'USA'"]),
    ({"brand_id": "b00", "niche": "knitting"}, {}, ["niche", "'knitting'"]),
    ({"brand_id": "b00", "exclude_influencer_ids": [1, 2]}, {}, ["exclude_influencer_ids"]),
    ({"brand_id": "b00", "platfrom": "tiktok"}, {}, ["unknown field", "platfrom"]),
    ({"brand_id": "b00", "category": "food"}, {}, ["category", "'food'", "in the data"]),
    ({"category": "food", "target_age": {"18-24": 1.5}}, {}, ["target_age.18-24", "1.5"]),
    ({"category": "food", "target_age": "young"}, {}, ["target_age", "'young'"]),
    ({"category": "food", "target_gender": {"female": 0.8, "male": 0.7}}, {},
     ["target_gender", "add up to 1.5"]),
    ({"brand_id": "b00"}, {"top_n": 0}, ["top_n = 0"]),
    ({"brand_id": "b00"}, {"top_n": 1001}, ["top_n = 1001"]),
    ({"brand_id": "b00"}, {"top_n": 2.5}, ["top_n = 2.5"]),
    ({"brand_id": "b00"}, {"top_n": True}, ["top_n = True"]),
    ({"brand_id": "b00"}, {"budget": 0}, ["budget = 0"]),
    ({"brand_id": "b00"}, {"as_of": "yesterday"}, ["as_of", "'yesterday'"]),
    ({"brand_id": "b00"}, {"as_of": "2001-01-01"}, ["as_of", "before the model's snapshot"]),
    ({"brand_id": "b00"}, {"as_of": "2099-01-01"}, ["as_of", "'2099-01-01'", "30 days",
                                                    "end of the model's data"]),
])
def test_bad_brief_or_parameter_names_the_field_and_value(ranker, fields, params, words):
    with pytest.raises(UserError) as info:
        ranker.recommend(pd.DataFrame([fields]), **params)
    for word in words:
        assert word in str(info.value)


def test_empty_request_and_too_many_briefs_are_refused(ranker):
    with pytest.raises(UserError, match="no brief"):
        ranker.recommend(pd.DataFrame())
    with pytest.raises(UserError, match="at most 100"):
        ranker.recommend(pd.DataFrame({"brand_id": ["b00"] * 101}))


# ----------------------------------------------------------------------------- reasons
def test_phrases_say_what_the_value_is_and_which_way_it_pushed():
    assert phrase("audience_match_age", 0.82, 0.3, {}) == "audience age matches the target (82%)"
    assert phrase("audience_match_age", 0.12, -0.3, {}) == (
        "audience age matches the target weakly (12%)")
    row = {"niche": "food", "category": "fitness"}
    assert phrase("niche_match", 0.0, -0.5, row) == (
        "food niche differs from the brand's category (fitness)")
    assert phrase("niche_match", 1.0, -0.5, row) == (
        "food niche is the brand's category (counts against)")
    assert phrase("er_mean_90d", 0.0423, 0.2, row) == "high engagement rate over 90 days (4.2%)"
    assert phrase("real_follower_share", float("nan"), 0.1, row) == (
        "real follower share unknown (counts for)")
    assert phrase("pair_conversion_rate", 0.42, 0.2, {"pair_collab_count": 0.0}) == (
        "no earlier work with this brand (counts for)")  # the rate is only the prior
    assert phrase("pair_conversion_rate", 0.5, 0.2, {"pair_collab_count": 2.0}) == (
        "earlier work with this brand converted (50%)")


def test_reasons_are_the_three_largest_contributions_without_brand_features():
    contrib = pd.DataFrame({"er_mean_90d": [0.1, -0.9], "brand_collab_count": [5.0, 5.0],
                            "audience_match_age": [-0.4, 0.2], "real_follower_share": [0.3, 0.0],
                            "n_posts": [0.05, 0.01], "bias": [-1.0, -1.0]})
    feats = {"er_mean_90d": np.array([0.05, 0.01]), "audience_match_age": np.array([0.3, 0.9]),
             "real_follower_share": np.array([0.9, 0.8]), "n_posts": np.array([100.0, 50.0])}
    out = reasons(contrib, feats)
    assert out[0] == ["audience age matches the target weakly (30%)", "real followers (90%)",
                      "high engagement rate over 90 days (5.0%)"]
    assert out[1] == ["low engagement rate over 90 days (1.0%)",
                      "audience age matches the target (90%)",
                      "long posting history (50 posts)"]  # zero contributions are skipped


def test_each_recommendation_has_three_reasons_in_words(ranker):
    out = ranker.recommend(_brief(brand_id="b03"), top_n=5)
    assert all(len(r) == 3 and all(isinstance(x, str) and x for x in r) for r in out["reasons"])


# ----------------------------------------------------------------------------- budget
def test_budget_mode_stays_within_budget_and_counts_unpriced(ranker, ranker_parts):
    inf = ranker_parts["ds"].influencers
    out = ranker.recommend(_brief(brand_id="b01"), top_n=20, budget=1500)
    assert set(BUDGET_COLUMNS) <= set(out.columns) and len(out) >= 1
    assert out["price_per_post"].notna().all()
    assert out["price_per_post"].sum() <= 1500 and out["total_price"].iloc[0] == pytest.approx(
        out["price_per_post"].sum())
    eligible = inf["followers"].between(1_000, 100_000)
    assert out["unpriced_left_out"].iloc[0] == int((eligible & inf["price_per_post"].isna()).sum())
    assert out["expected_conversions"].iloc[0] == pytest.approx(out["score"].sum())


def test_budget_without_any_priced_candidate_says_so_with_the_unpriced_count(ranker_parts,
                                                                            tmp_path):
    import dataclasses

    from recommender.snapshot import build_snapshot

    ds = ranker_parts["ds"]  # the same world without prices (the real sample has none)
    ds = dataclasses.replace(ds, influencers=ds.influencers.assign(price_per_post=np.nan))
    unpriced = Ranker(ranker_parts["model"], build_snapshot(ds, ranker_parts["model"],
                                                            out_dir=tmp_path / "snap"))
    micro = int(ds.influencers["followers"].between(1_000, 100_000).sum())
    with pytest.raises(UserError) as info:  # was an empty answer: "no influencer matches"
        unpriced.recommend(_brief(brand_id="b01"), top_n=5, budget=1000)
    assert (f"budget = 1000: no candidate has a price: all {micro:,} that pass the filters "
            "lack price_per_post") in str(info.value)
    assert len(unpriced.recommend(_brief(brand_id="b01"), top_n=5)) == 5  # unbudgeted: ranked


def test_concurrent_requests_get_the_same_answers_as_serial_ones(ranker_parts):
    from concurrent.futures import ThreadPoolExecutor

    fresh = Ranker(ranker_parts["model"], ranker_parts["snapshot_dir"], shortlist_size=30)
    briefs = [_brief(category=c, brand_country=k) for c in ("food", "beauty", "tech", "pets")
              for k in ("US", "DE", "FR")] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:  # the scoring server answers in threads
        together = list(pool.map(lambda b: fresh.recommend(b, top_n=5), briefs))
    for brief, got in zip(briefs, together, strict=True):
        expected = fresh.recommend(brief, top_n=5)
        assert list(got["influencer_id"]) == list(expected["influencer_id"])


def test_first_stage_top_is_the_top_of_its_scores_weighing_fewer_audiences(ranker):
    rows = np.arange(len(ranker.ids))
    fs = ranker.first_stage
    for brief in (ranker_parts_brief(ranker, brand_id="b02"),
                  ranker_parts_brief(ranker, category="food", target_age={"18-24": 0.8})):
        profile = ranker.brand_side(brief).profile
        s = fs.scores(rows, profile)
        for k in (5, 40):
            assert set(fs.top(rows, profile, k)) == set(np.argsort(-s, kind="stable")[:k])
        offset = -np.log(np.maximum(np.nan_to_num(ranker.price, nan=1.0), 1.0))
        assert set(fs.top(rows, profile, 20, offset)) == set(np.argsort(-(s + offset))[:20])
    assert fs.audience_max > 0


def test_a_misspelt_category_is_ranked_with_a_warning_naming_the_closest(ranker, caplog):
    with caplog.at_level("WARNING", logger="recommender.briefs"):
        out = ranker.recommend(_brief(category="fitnes"), top_n=3)
    assert len(out) == 3
    (record,) = [r for r in caplog.records if r.name == "recommender.briefs"]
    assert "category 'fitnes' is not a known category" in record.getMessage()
    assert "did you mean 'fitness'?" in record.getMessage()
    caplog.clear()
    with caplog.at_level("WARNING", logger="recommender.briefs"):
        ranker.recommend(_brief(category="Fitness"), top_n=3)
    assert not caplog.records


def test_reasons_leave_out_what_every_row_of_the_shortlist_shares():
    contrib = pd.DataFrame({"real_follower_share": [-0.9, -0.9, -0.9],  # missing for all
                            "niche_match": [0.8, 0.8, 0.8],  # the same for all
                            "er_mean_90d": [0.3, -0.2, 0.1],
                            "n_posts": [0.05, 0.2, -0.3], "bias": [1.0, 1.0, 1.0]})
    values = {"real_follower_share": np.array([np.nan] * 3), "niche_match": np.ones(3),
              "er_mean_90d": np.array([0.08, 0.01, 0.05]), "n_posts": np.array([90, 40, 3]),
              "niche": np.array(["food"] * 3, dtype=object),
              "category": np.array(["food"] * 3, dtype=object)}
    out = reasons(contrib, values)
    assert out == [["high engagement rate over 90 days (8.0%)", "long posting history (90 posts)"],
                   ["low engagement rate over 90 days (1.0%)", "long posting history (40 posts)"],
                   ["short posting history (3 posts)", "high engagement rate over 90 days (5.0%)"]]
    # one row alone: a value it has is a reason, a missing one is not
    alone = reasons(contrib.iloc[:1], {c: v[:1] for c, v in values.items()})
    assert alone == [["food niche is the brand's category",
                      "high engagement rate over 90 days (8.0%)",
                      "long posting history (90 posts)"]]
