"""Tests for lookalike briefs: profile vectors, retrieval, blending, reasons, bad seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender.errors import UserError
from recommender.lookalike import (
    BLOCK_WEIGHTS,
    RANKED_BY_SIMILARITY,
    SIMILARITY_WEIGHT,
    LookalikeIndex,
    evaluate_seeds,
)
from recommender.ranker import LOOKALIKE_COLUMNS, OUTPUT_COLUMNS, Ranker


@pytest.fixture(scope="module")
def ranker(ranker_parts) -> Ranker:
    return Ranker(ranker_parts["model"], ranker_parts["snapshot_dir"])


def _seed(ranker: Ranker, k: int = 0) -> str:
    micro = np.flatnonzero((ranker.followers >= 1_000) & (ranker.followers <= 100_000))
    return str(ranker.ids[micro[k]])


def test_profile_similarity_is_the_weighted_mean_of_block_cosines(ranker):
    prof = ranker.lookalikes.profiles
    norms = np.linalg.norm(prof.vectors, axis=1)
    assert norms.max() <= 1 + 1e-5 and prof.vectors.min() >= 0
    a, b = 3, 7
    cos = prof.block_cosines(np.array([b]), prof.vectors[a].astype(np.float64))
    total = sum(BLOCK_WEIGHTS[k] * cos[k][0] for k in cos)
    assert total == pytest.approx(float(prof.vectors[a] @ prof.vectors[b]), abs=1e-5)
    same_niche = ranker.side["niche"].iloc[a] == ranker.side["niche"].iloc[b]
    assert cos["niche"][0] == pytest.approx(1.0 if same_niche else 0.0, abs=1e-6)


def test_brandless_lookalike_is_pure_similarity_and_says_so(ranker):
    seed = _seed(ranker)
    out = ranker.recommend(pd.DataFrame([{"like": [seed]}]), top_n=10)
    assert list(out.columns) == OUTPUT_COLUMNS + LOOKALIKE_COLUMNS
    assert len(out) == 10 and seed not in set(out["influencer_id"])
    assert out["score"].isna().all() and (out["ranked_by"] == RANKED_BY_SIMILARITY).all()
    assert (np.diff(out["similarity"].to_numpy()) <= 1e-9).all()
    # the best is the most similar of every other micro-influencer (exact search)
    row = ranker.ids.get_loc(seed)
    prof = ranker.lookalikes.profiles
    micro = (ranker.followers >= 1_000) & (ranker.followers <= 100_000)
    micro[row] = False
    sims = prof.vectors[micro] @ prof.vectors[row]
    assert out["similarity"].iloc[0] == pytest.approx(float(sims.max()), abs=1e-5)
    assert all(r[0].startswith(f"like {seed}: ") for r in out["reasons"])


def test_branded_lookalike_blends_similarity_and_probability_by_the_stated_rule(ranker):
    seed = _seed(ranker, 1)
    out = ranker.recommend(pd.DataFrame([{"brand_id": "b00", "like": [seed]}]), top_n=10)
    assert out["score"].notna().all()
    blend = out["lookalike_score"].to_numpy()
    assert (np.diff(blend) <= 1e-12).all()
    # the rule, read back: w x similarity + (1 - w) x p / best p of the scored pool
    implied_best = (1 - SIMILARITY_WEIGHT) * out["score"] / (
        blend - SIMILARITY_WEIGHT * out["similarity"])
    assert np.allclose(implied_best, implied_best.iloc[0], rtol=1e-6)
    assert implied_best.iloc[0] >= out["score"].max() - 1e-12
    plain = ranker.recommend(pd.DataFrame([{"brand_id": "b00"}]), top_n=10)
    assert set(out["influencer_id"]) != set(plain["influencer_id"])
    assert all(len(r) == 4 and r[0].startswith(f"like {seed}") for r in out["reasons"])


def test_lookalike_keeps_the_briefs_filters(ranker):
    seed = _seed(ranker, 2)
    out = ranker.recommend(pd.DataFrame([{"like": [seed], "platform": "tiktok",
                                          "max_followers": 20_000}]), top_n=5)
    assert (out["platform"] == "tiktok").all() and (out["followers"] <= 20_000).all()


@pytest.mark.parametrize("fields, words", [
    ({"like": ["i_nobody"]}, ["like = 'i_nobody'", "not an influencer"]),
    ({"like": [3]}, ["like", "3", "list of id strings"]),
    ({"like": [""]}, ["like", "list of id strings"]),
    ({"brand_id": "nope", "like": ["i_nobody"]}, ["brand_id", "'nope'"]),
])
def test_bad_seed_names_the_field_and_value(ranker, fields, words):
    with pytest.raises(UserError) as info:
        ranker.recommend(pd.DataFrame([fields]))
    for word in words:
        assert word in str(info.value)


def test_lookalike_with_budget_is_refused_naming_both(ranker):
    with pytest.raises(UserError, match="like .* budget"):
        ranker.recommend(pd.DataFrame([{"brand_id": "b00", "like": [_seed(ranker)]}]),
                         budget=1000)


def test_usearch_index_finds_the_exact_neighbours(ranker):
    prof = ranker.lookalikes.profiles
    approx = LookalikeIndex(prof, large=1)
    assert approx.index is not None
    mask = np.ones(len(prof.vectors), dtype=bool)
    mask[5] = False
    q = approx.query(np.array([5]))
    exact_rows, exact_sim = ranker.lookalikes.nearest(q, mask, 10)
    rows, sim = approx.nearest(q, mask, 10)
    assert len(set(rows) & set(exact_rows)) >= 9
    assert sim[0] == pytest.approx(exact_sim[0], abs=1e-5)


def test_top10_share_niche_and_audience_more_than_random_same_niche(ranker):
    """The stated metric: over 30 seeds, the top-10 lookalikes' niche agreement, and their
    audience overlap with the seed (mean histogram intersection over age, gender, country),
    against 10 random influencers of the seed's niche."""
    result = evaluate_seeds(ranker, n_seeds=30, seed=0)
    assert result["niche_share_top10"] >= 0.9
    assert result["audience_overlap_top10"] > result["audience_overlap_random_same_niche"] + 0.05
