"""The catalogue truth and the generator's stories: consistent with the world's true model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recommender import config
from recommender.validate import load_dataset
from recommender.world import generate_world
from recommender.world.stories import STORIES, get_story

STORY_WORLD = {"n_influencers": 400, "n_brands": 12, "months": 8, "seed": 3}


def _shares(frame: pd.DataFrame, key: str, dim: str) -> pd.DataFrame:
    part = frame[frame["dimension"] == dim]
    return part.pivot_table(index=key, columns="segment", values="share", fill_value=0.0)


def _overlap(world: dict[str, pd.DataFrame], cat: pd.DataFrame, dims) -> np.ndarray:
    """Mean over `dims` of sum(min(audience, target)), from the contract tables."""
    total = np.zeros(len(cat))
    for dim in dims:
        a = _shares(world["audience"], "influencer_id", dim)
        b = _shares(world["brand_audience"], "brand_id", dim).reindex(columns=a.columns,
                                                                      fill_value=0.0)
        a = a.reindex(columns=b.columns, fill_value=0.0)
        total += np.minimum(a.loc[cat["influencer_id"]].to_numpy(),
                            b.loc[cat["brand_id"]].to_numpy()).sum(axis=1)
    return total / len(dims)


def test_catalogue_holds_every_micro_influencer_for_each_sample_brand(small_world) -> None:
    cat, inf = small_world["truth_catalogue"], small_world["influencers"]
    assert cat["brand_id"].nunique() == 25
    assert set(cat["brand_id"]) <= set(small_world["brands"]["brand_id"])
    assert cat["as_of"].nunique() == 1
    assert cat["as_of"].iloc[0] > small_world["collaborations"]["started_at"].max()
    micro = inf[inf["followers"].between(config.MICRO_MIN_FOLLOWERS, config.MICRO_MAX_FOLLOWERS)]
    per_brand = cat.groupby("brand_id")["influencer_id"].apply(set)
    # all micro accounts active by the world's end (a few start late and are all active)
    assert all(ids == set(micro["influencer_id"]) for ids in per_brand)
    assert not cat.duplicated(["brand_id", "influencer_id"]).any()


def test_catalogue_terms_are_the_world_model_of_its_collaborations(small_world) -> None:
    from recommender.world import params

    cat, truth, collabs = (small_world[k] for k in ("truth_catalogue", "truth",
                                                    "collaborations"))
    terms = [c for c in cat.columns if c.startswith("logit_")]
    assert "logit_noise" not in terms  # a booking's own noise is not known before it
    logit = np.log(cat["p_true"] / (1 - cat["p_true"]))
    np.testing.assert_allclose(params.CONV_INTERCEPT + cat[terms].sum(axis=1), logit, atol=1e-9)
    booked = truth.merge(collabs[["collaboration_id", "brand_id", "influencer_id"]],
                         on="collaboration_id")
    # terms that do not change in time are those of the same pair's collaborations
    same = booked.merge(cat, on=["brand_id", "influencer_id"], suffixes=("", "_cat"))
    assert len(same) > 20
    for term in ("logit_fit", "logit_audience", "logit_quality", "logit_influencer_effect",
                 "logit_brand_effect"):
        np.testing.assert_allclose(same[term], same[f"{term}_cat"], atol=1e-12, err_msg=term)
    # the hidden effects of every influencer and brand that was booked, not only shared pairs
    for term, key in (("logit_influencer_effect", "influencer_id"),
                      ("logit_brand_effect", "brand_id")):
        seen = booked.groupby(key)[term].first()
        in_cat = cat.groupby(key)[term].first()
        common = seen.index.intersection(in_cat.index)
        np.testing.assert_allclose(seen[common], in_cat[common], atol=1e-12)
    # and the audience term is the overlap of the published shares (floored to 4 decimals)
    overlap = _overlap(small_world, cat, ("age", "gender", "country"))
    expected = params.CONV_AUDIENCE * (overlap - params.CONV_AUDIENCE_CENTRE)
    np.testing.assert_allclose(cat["logit_audience"], expected, atol=5e-3)


@pytest.fixture(scope="module")
def story_worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stories")
    for name in ("default", "reach"):
        generate_world(root / name, story=name, **STORY_WORLD)
    return {"default": root / "default", "reach": root / "reach"}


def test_a_story_changes_the_truth_not_the_population(story_worlds) -> None:
    read = {name: {t: pd.read_parquet(folder / f"{t}.parquet")
                   for t in ("influencers", "audience", "brand_audience", "truth_catalogue")}
            for name, folder in story_worlds.items()}
    d, r = read["default"], read["reach"]
    pd.testing.assert_frame_equal(d["influencers"], r["influencers"])
    pd.testing.assert_frame_equal(d["audience"], r["audience"])
    assert not np.allclose(d["truth_catalogue"]["p_true"], r["truth_catalogue"]["p_true"])
    # "reach" converts through the age overlap only, with its own weight
    story, cat = get_story("reach"), r["truth_catalogue"]
    expected = story.audience * (_overlap(r, cat, ("age",)) - story.audience_centre)
    np.testing.assert_allclose(cat["logit_audience"], expected, atol=5e-3)
    # its hidden influencer effects are the default's, scaled to the story's spread
    ratio = cat["logit_influencer_effect"] / d["truth_catalogue"]["logit_influencer_effect"]
    np.testing.assert_allclose(ratio, story.influencer_sigma / STORIES["default"].influencer_sigma)
    ds = load_dataset(story_worlds["reach"])
    assert ds.warnings == [] and len(ds.rejects) == 0


def test_an_unknown_story_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="story 'sideways': must be one of default, reach"):
        generate_world(tmp_path / "w", story="sideways", n_influencers=20, n_brands=2, months=2)
    assert not (tmp_path / "w").exists()
