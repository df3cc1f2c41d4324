"""Simulated planners: accept/reject events on shown shortlists, by a hidden taste plus the
rank a row was shown at, with the truth to test position-bias correction against.

Each brief is one brand at one instant in the last BRIEF_MONTHS months of the world. A pool
of POOL micro-influencers (half of them in the brand's category niche) is ordered by the
"logging ranker", the tool the planners used: mostly by size (log followers plus noise), so
the rank shown correlates with follower count, which the planners do not care about. They
decide on each of the SHOWN rows: P(accept) = sigmoid(BASE + taste + position(rank)), with

    taste = 0.8 z(real follower share) - 0.6 z(log price per follower) + 1.0 [niche = category]
    position(rank) = -POSITION_SLOPE x log2(rank)

(z: standardised over the catalogue; a missing value counts 0). A model that ignores the
rank learns that large accounts are accepted more; one that accounts for it should not.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from recommender.world.params import WORLD_END

POOL = 30
SHOWN = 10
BRIEF_MONTHS = 6
BASE = 0.0
POSITION_SLOPE = 1.2
TASTE_WEIGHTS = {"real_follower_share": 0.8, "log_price_per_follower": -0.6, "niche_match": 1.0}
PLANNERS = ("ana", "ben", "chloe", "dev")


def _z(x: np.ndarray) -> np.ndarray:
    mu, sd = np.nanmean(x), np.nanstd(x)
    z = (x - mu) / (sd if sd > 0 else 1.0)
    return np.nan_to_num(z, nan=0.0)


def influencer_taste_terms(influencers: pd.DataFrame) -> pd.DataFrame:
    """The influencer-side terms of the hidden taste, one row per influencer (same order)."""
    followers = influencers["followers"].to_numpy(np.float64)
    price = influencers["price_per_post"].to_numpy(np.float64)
    return pd.DataFrame({
        "influencer_id": influencers["influencer_id"].to_numpy(),
        "real_follower_share": _z(influencers["real_follower_share"].to_numpy(np.float64)),
        "log_price_per_follower": _z(np.log(price / np.maximum(followers, 1.0))),
        "log_followers": _z(np.log10(np.maximum(followers, 1.0))),
    })


def planner_taste(influencers: pd.DataFrame, brands: pd.DataFrame, pairs: pd.DataFrame
                  ) -> np.ndarray:
    """The hidden taste (a logit, without position) of (brand_id, influencer_id) pairs."""
    terms = influencer_taste_terms(influencers).set_index("influencer_id")
    t = terms.loc[pairs["influencer_id"]]
    category = brands.set_index("brand_id")["category"].reindex(pairs["brand_id"]).to_numpy()
    niche = influencers.set_index("influencer_id")["niche"].reindex(
        pairs["influencer_id"]).to_numpy()
    match = (niche == category).astype(np.float64)
    w = TASTE_WEIGHTS
    return (w["real_follower_share"] * t["real_follower_share"].to_numpy()
            + w["log_price_per_follower"] * t["log_price_per_follower"].to_numpy()
            + w["niche_match"] * match)


def position_effect(rank: np.ndarray) -> np.ndarray:
    """The logit shift of being shown at `rank` (1 = top)."""
    return -POSITION_SLOPE * np.log2(np.asarray(rank, dtype=np.float64))


def accept_probability(taste: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """P(accept) of a row of hidden `taste` shown at `rank`."""
    return 1.0 / (1.0 + np.exp(-(BASE + taste + position_effect(rank))))


def brief_pools(rng: np.random.Generator, influencers: pd.DataFrame, brands: pd.DataFrame,
                n_briefs: int) -> pd.DataFrame:
    """Candidate pools: one row per (brief, candidate) with brief_id, brand_id, at,
    influencer_id and the logging ranker's order (`logged_rank`, 1 = shown first)."""
    micro = influencers[(influencers["followers"] >= 1_000)
                        & (influencers["followers"] <= 100_000)].reset_index(drop=True)
    size = influencer_taste_terms(micro)["log_followers"].to_numpy()
    niche = micro["niche"].to_numpy()
    span = pd.Timedelta(days=30.4 * BRIEF_MONTHS)
    starts = WORLD_END - span + rng.random(n_briefs) * span
    frames = []
    for k in range(n_briefs):
        b = rng.integers(len(brands))
        same = np.flatnonzero(niche == brands["category"].iloc[b])
        other = np.flatnonzero(niche != brands["category"].iloc[b])
        half = min(POOL // 2, len(same))
        pool = np.concatenate([rng.choice(same, half, replace=False),
                               rng.choice(other, min(POOL - half, len(other)), replace=False)])
        logged = size[pool] + 0.5 * rng.standard_normal(len(pool))
        order = pool[np.argsort(-logged, kind="stable")]
        frames.append(pd.DataFrame({
            "brief_id": k, "brand_id": brands["brand_id"].iloc[b], "at": starts[k],
            "influencer_id": micro["influencer_id"].to_numpy()[order],
            "logged_rank": np.arange(1, len(order) + 1)}))
    return pd.concat(frames, ignore_index=True)


def simulate_planners(influencers: pd.DataFrame, brands: pd.DataFrame, n_briefs: int,
                      seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(feedback events in the store's columns, truth): the events of the SHOWN rows of
    `n_briefs` briefs, and per pool row its hidden taste, logged rank and, if shown, the
    acceptance probability it had."""
    rng = np.random.default_rng(seed)
    pools = brief_pools(rng, influencers, brands, n_briefs)
    pools["taste"] = planner_taste(influencers, brands, pools)
    shown = pools[pools["logged_rank"] <= SHOWN].copy()
    shown["p_accept"] = accept_probability(shown["taste"].to_numpy(),
                                           shown["logged_rank"].to_numpy())
    accepted = rng.random(len(shown)) < shown["p_accept"].to_numpy()
    who = np.asarray(PLANNERS)[shown["brief_id"].to_numpy() % len(PLANNERS)]
    events = pd.DataFrame({
        "at": shown["at"].to_numpy(), "who": who, "brand_id": shown["brand_id"].to_numpy(),
        "influencer_id": shown["influencer_id"].to_numpy(),
        "decision": np.where(accepted, "accept", "reject"),
        "rank": shown["logged_rank"].to_numpy(), "score": np.nan,
        "brief": [json.dumps({"brief_id": int(k), "brand_id": b}) for k, b in
                  zip(shown["brief_id"], shown["brand_id"], strict=True)],
        "reason": None, "source": "simulated"})
    events["at"] = pd.to_datetime(events["at"], utc=True)
    truth = pools.merge(shown[["brief_id", "influencer_id", "p_accept"]], how="left",
                        on=["brief_id", "influencer_id"])
    return events.sort_values("at", kind="stable").reset_index(drop=True), truth


FEEDBACK_FILE = "feedback.parquet"
TRUTH_FILE = "planner_truth.parquet"


def write_planner_feedback(world_dir, n_briefs: int, seed: int = 0) -> dict[str, object]:
    """Simulate planners on a written world: FEEDBACK_FILE (events, the feedback store's
    columns; `recommender train --feedback` reads it) and TRUTH_FILE beside its tables."""
    from pathlib import Path

    from recommender.io import write_parquet_atomic

    world = Path(world_dir)
    events, truth = simulate_planners(pd.read_parquet(world / "influencers.parquet"),
                                      pd.read_parquet(world / "brands.parquet"), n_briefs, seed)
    write_parquet_atomic(events, world / FEEDBACK_FILE)
    write_parquet_atomic(truth, world / TRUTH_FILE)
    return {"feedback": world / FEEDBACK_FILE, "planner_truth": world / TRUTH_FILE}


def evaluate_against_truth(ds, truth: pd.DataFrame, result, conversion,
                           after: pd.Timestamp) -> dict[str, float]:
    """Held-out briefs (pools of briefs at or after `after`) against the hidden truth:
    Spearman correlation of each preference model's score with the true taste over the
    pool rows, and the expected top-SHOWN acceptance rate (true P(accept) at the new rank)
    of each pool re-ranked by conversion p alone, by the blend, and by the true taste."""
    from scipy.stats import spearmanr

    from recommender.preference import blended, event_features

    pools = truth[truth["at"] >= after].reset_index(drop=True)
    X = event_features(ds, pools)
    taste = pools["taste"].to_numpy()
    corrected, naive = result.model.score(X), result.naive.score(X)
    p = conversion.predict_proba(X)
    weight = result.metrics["feedback_blend_weight_chosen"]
    keys = {"conversion": blended(p, corrected, 0.0), "blend": blended(p, corrected, weight),
            "taste": taste}
    rates = {k: [] for k in keys}
    for _, rows in pools.groupby("brief_id").indices.items():
        for name, key in keys.items():
            top = rows[np.argsort(-key[rows], kind="stable")[:SHOWN]]
            rates[name].append(accept_probability(taste[top], np.arange(1, len(top) + 1)).mean())
    return {"briefs_held_out": float(pools["brief_id"].nunique()),
            "taste_spearman_corrected": float(spearmanr(corrected, taste).statistic),
            "taste_spearman_uncorrected": float(spearmanr(naive, taste).statistic),
            **{f"top{SHOWN}_acceptance_{k}": float(np.mean(v)) for k, v in rates.items()}}
