"""Lookalikes: influencers like seed influencers, by a normalised profile vector, blended with
the brand's conversion probability.

Every influencer of the catalogue has one profile vector, made of blocks; each block is
scaled to length sqrt(w) (w its weight in BLOCK_WEIGHTS, which add up to 1), so the dot
product of two profiles is sum_b w_b cos_b, the weighted mean of the blocks' cosines, in
[0, 1] (every entry is >= 0). A block an influencer has no data for is zero: it shares
nothing. Blocks:

- audience age, gender and country (one each): the audience shares as they are;
- niche and platform: one-hot;
- size: log10(followers) placed on a quarter circle from 1,000 (0) to 100,000 followers
  (90 degrees), clipped outside: cos = cos(90 degrees x the gap in log followers / 2);
- engagement profile: each of ENGAGEMENT_FEATURES as its percentile in the catalogue on a
  quarter circle, the block's cosine is the mean of cos(90 degrees x percentile gap).

Several seeds: the query is the mean of their profiles, so a candidate's similarity is its
mean similarity to the seeds. Seeds are never returned. Retrieval is an exact dot product
over the filtered catalogue (numpy, one matrix-vector product); above LARGE_CATALOGUE rows a
usearch inner-product index is searched instead (over-fetching, then filtering).

Ranking rule: with a brand (known or inline), the LIKE_POOL most similar candidates are
scored by the conversion model and ranked by
lookalike_score = SIMILARITY_WEIGHT x similarity + (1 - SIMILARITY_WEIGHT) x p / max p
(max over the pool: the best probability counts 1). Without a brand there is no
probability: the ranking is by similarity alone, score is null and `ranked_by` says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recommender.contract import DIMENSIONS
from recommender.errors import UserError
from recommender.features.audience import AUDIENCE_PREFIX, segment_columns

logger = logging.getLogger(__name__)

BLOCK_WEIGHTS = {"age": 0.15, "gender": 0.10, "country": 0.15, "niche": 0.25,
                 "platform": 0.10, "size": 0.10, "engagement": 0.15}
ENGAGEMENT_FEATURES = ("er_mean_90d", "posts_per_week_90d", "sponsored_share_365d",
                       "follower_growth_90d")
SIZE_RANGE_LOG10 = (3.0, 5.0)  # 1,000 to 100,000 followers span the quarter circle
SIZE_BANDS = ((10_000, "under 10k"), (50_000, "10k-50k"), (100_000, "50k-100k"))
SIMILARITY_WEIGHT = 0.5
LIKE_POOL = 200  # candidates scored by the model per lookalike brief (or 5 x top_n)
LARGE_CATALOGUE = 200_000  # from this many rows on, search a usearch index
SHARED_AT = 0.8  # a block whose cosine is at least this is named in the reason
SHARED_NAMED = 3  # at most this many blocks named, the largest contributions first
RANKED_BY_SIMILARITY = "similarity to the seeds only (no brand given: no conversion probability)"
RANKED_BY_BLEND = (f"{SIMILARITY_WEIGHT:g} x similarity + {1 - SIMILARITY_WEIGHT:g} x "
                   "conversion probability / best in the pool")


def _quarter_circle(q: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (NaN: unknown) as 2-d unit vectors at q x 90 degrees (NaN -> 0)."""
    angle = np.clip(q, 0.0, 1.0) * (np.pi / 2)
    out = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    out[np.isnan(q)] = 0.0
    return out


def _unit_rows(block: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (zero rows stay zero); NaN read as 0."""
    block = np.nan_to_num(block.astype(np.float64), nan=0.0)
    norm = np.linalg.norm(block, axis=1, keepdims=True)
    return np.divide(block, norm, out=np.zeros_like(block), where=norm > 0)


def _one_hot(values: pd.Series) -> np.ndarray:
    codes, uniques = pd.factorize(values)
    out = np.zeros((len(values), max(len(uniques), 1)))
    known = codes >= 0
    out[np.flatnonzero(known), codes[known]] = 1.0
    return out


@dataclass(frozen=True)
class Profiles:
    """The catalogue's profile vectors (unit blocks times sqrt(weight)) and block spans."""

    vectors: np.ndarray  # float32 (n influencers, dims)
    blocks: dict[str, slice]

    def block_cosines(self, rows: np.ndarray, query: np.ndarray) -> dict[str, np.ndarray]:
        """Per block, the cosine of each row's block with the query's (mean over seeds)."""
        out = {}
        for name, span in self.blocks.items():
            dots = self.vectors[rows, span] @ query[span]
            out[name] = dots / BLOCK_WEIGHTS[name]
        return out


def build_profiles(side: pd.DataFrame, followers: np.ndarray) -> Profiles:
    """The profile vectors of an influencer side table (one row per catalogue influencer)."""
    parts: dict[str, np.ndarray] = {}
    for dim in DIMENSIONS:
        cols = list(segment_columns(side.columns, AUDIENCE_PREFIX, dim).values())
        parts[dim] = (_unit_rows(side[cols].to_numpy(np.float64)) if cols
                      else np.zeros((len(side), 1)))
    parts["niche"] = _one_hot(side["niche"].astype("object"))
    parts["platform"] = _one_hot(side["platform"].astype("object"))
    lo, hi = SIZE_RANGE_LOG10
    size = (np.log10(np.maximum(followers.astype(np.float64), 1.0)) - lo) / (hi - lo)
    parts["size"] = _quarter_circle(size)
    engagement = []
    for name in ENGAGEMENT_FEATURES:
        values = side[name].astype(np.float64) if name in side else pd.Series(np.nan,
                                                                              index=side.index)
        engagement.append(_quarter_circle(values.rank(pct=True).to_numpy()))
    parts["engagement"] = _unit_rows(np.concatenate(engagement, axis=1))
    blocks, start, scaled = {}, 0, []
    for name, w in BLOCK_WEIGHTS.items():
        block = _unit_rows(parts[name]) * np.sqrt(w)
        blocks[name] = slice(start, start + block.shape[1])
        start += block.shape[1]
        scaled.append(block)
    return Profiles(np.ascontiguousarray(np.concatenate(scaled, axis=1), dtype=np.float32),
                    blocks)


class LookalikeIndex:
    """Similarity search over the profiles: exact, or a usearch index for large catalogues."""

    def __init__(self, profiles: Profiles, large: int = LARGE_CATALOGUE) -> None:
        self.profiles = profiles
        self.index = None
        if len(profiles.vectors) >= large:
            from usearch.index import Index

            self.index = Index(ndim=profiles.vectors.shape[1], metric="ip", dtype="f32")
            self.index.add(np.arange(len(profiles.vectors)), profiles.vectors)
            logger.info("usearch index of %d profiles", len(profiles.vectors))

    def query(self, seeds: np.ndarray) -> np.ndarray:
        """The query vector of seed rows: the mean of their profiles."""
        return self.profiles.vectors[seeds].astype(np.float64).mean(axis=0)

    def nearest(self, query: np.ndarray, mask: np.ndarray, k: int
                ) -> tuple[np.ndarray, np.ndarray]:
        """The (at most) k rows of `mask` most similar to `query`, best first, and their
        similarities (ties: catalogue order)."""
        if self.index is not None:
            found = self._approximate(query, mask, k)
            if found is not None:
                return found
        rows = np.flatnonzero(mask)
        sim = (self.profiles.vectors @ query.astype(np.float32))[rows]  # no copy of the rows
        if len(rows) > k:
            top = np.argpartition(-sim, k - 1)[:k]
            rows, sim = rows[top], sim[top]
        order = np.lexsort((rows, -sim))
        return rows[order], sim[order].astype(np.float64)

    def _approximate(self, query: np.ndarray, mask: np.ndarray, k: int):
        """Search the index, over-fetching for the filter; None if too few rows pass it."""
        share = max(mask.mean(), 1e-6)
        fetch = min(len(mask), int(np.ceil(4 * k / share)) + k)
        matches = self.index.search(query.astype(np.float32), fetch)
        keys = np.asarray(matches.keys, dtype=np.int64)
        keys = keys[mask[keys]][:k]
        if len(keys) < min(k, int(mask.sum())):
            return None  # the filter is too narrow for the index: exact search instead
        sim = self.profiles.vectors[keys] @ query.astype(np.float32)
        order = np.lexsort((keys, -sim))
        return keys[order], sim[order].astype(np.float64)


def seed_rows(ids: pd.Index, brief) -> np.ndarray:
    """Catalogue rows of the brief's seeds; UserError naming the first unknown seed."""
    rows = ids.get_indexer(list(brief.like))
    if (rows < 0).any():
        bad = brief.like[int(np.flatnonzero(rows < 0)[0])]
        raise UserError(f"brief {brief.label}: like = {bad!r}: is not an influencer in the "
                        "model's catalogue")
    return rows


def _band(followers: float) -> str:
    return next((name for edge, name in SIZE_BANDS if followers < edge), "100k+")


def similarity_reason(cos: dict[str, np.ndarray], i: int, row: dict[str, Any],
                      seeds: list[dict[str, Any]]) -> str:
    """What candidate i shares with the seeds, strongest first, e.g. "like i00012: same
    niche (fitness), audience age 94% alike, same size band (10k-50k)"."""
    who = seeds[0]["influencer_id"] if len(seeds) == 1 else f"the {len(seeds)} seeds"
    shared = []
    for name in sorted(cos, key=lambda b: -BLOCK_WEIGHTS[b] * cos[b][i]):
        c = float(cos[name][i])
        if c < SHARED_AT:
            continue
        if name in ("niche", "platform"):
            n = sum(s[name] == row[name] for s in seeds)
            shared.append(f"same {name} ({row[name]})" if n == len(seeds)
                          else f"{name} {row[name]} as {n} of {len(seeds)} seeds")
        elif name == "size":
            shared.append(f"similar size ({row['followers']:,} followers, "
                          f"{_band(row['followers'])})")
        elif name == "engagement":
            shared.append(f"engagement profile {c:.0%} alike")
        else:
            shared.append(f"audience {name} {c:.0%} alike")
    return f"like {who}: " + (", ".join(shared[:SHARED_NAMED]) if shared
                              else "nothing closely shared")


def rank_lookalikes(ranker, brief, mask: np.ndarray, top_n: int, when: pd.Timestamp,
                    budget: float | None) -> pd.DataFrame:
    """One lookalike brief ranked (see the module docstring for the rule)."""
    if budget is not None:
        raise UserError(f"brief {brief.label}: like = {list(brief.like)!r}: a lookalike brief "
                        "cannot be combined with budget; leave one out")
    seeds = seed_rows(ranker.ids, brief)
    mask = mask.copy()
    mask[seeds] = False
    index = ranker.lookalikes
    query = index.query(seeds)
    pool = top_n if not brief.branded else max(LIKE_POOL, 5 * top_n)
    rows, sim = index.nearest(query, mask, pool)
    if not len(rows):
        return pd.DataFrame()
    side = ranker.side

    def values(column: str, at: np.ndarray) -> np.ndarray:  # only these rows: no full copy
        return np.asarray(side[column].array.take(at), dtype=object)

    def records(at: np.ndarray) -> list[dict[str, Any]]:
        cols = {c: values(c, at) for c in ("influencer_id", "niche", "platform")}
        return [{**{c: v[k] for c, v in cols.items()}, "followers": int(ranker.followers[r])}
                for k, r in enumerate(at)]

    seed_info = records(seeds)
    if brief.branded:
        X, M, raw, p = ranker.score_rows(rows, ranker.brand_side(brief), when)
        best = float(p.max()) if p.max() > 0 else 1.0
        blend = SIMILARITY_WEIGHT * sim + (1 - SIMILARITY_WEIGHT) * p / best
        chosen = np.lexsort((rows, -raw, -blend))[:top_n]
        contrib = ranker.model.contributions_of_matrix(M[chosen], 1)
        out = ranker._output(brief, rows[chosen], X, chosen, p[chosen], contrib, when, {})
        cos = index.profiles.block_cosines(rows[chosen], query)
        out["reasons"] = [[similarity_reason(cos, k, rec, seed_info), *model_reasons]
                          for k, (rec, model_reasons) in enumerate(zip(records(rows[chosen]),
                                                                       out["reasons"],
                                                                       strict=True))]
        return out.assign(similarity=sim[chosen], lookalike_score=blend[chosen],
                          ranked_by=RANKED_BY_BLEND)
    cos = index.profiles.block_cosines(rows, query)
    found = records(rows)
    er = (np.asarray(side["er_mean_90d"].array.take(rows), dtype=np.float64)
          if "er_mean_90d" in side else np.nan)
    return pd.DataFrame({
        "brief": [brief.label] * len(rows), "brand_id": brief.brand_id,
        "rank": np.arange(1, len(rows) + 1),
        "influencer_id": [r["influencer_id"] for r in found],
        **{c: names[rows] for c, names in ranker.names.items()}, "score": np.nan,
        "platform": [r["platform"] for r in found], "niche": [r["niche"] for r in found],
        "country": ranker.country[rows], "followers": ranker.followers[rows],
        "engagement_rate_90d": er, "audience_match": np.nan,
        "price_per_post": ranker.price[rows],
        "reasons": [[similarity_reason(cos, k, rec, seed_info)] for k, rec in enumerate(found)],
        "as_of": when.isoformat(), "snapshot_as_of": ranker.as_of.isoformat(),
        "similarity": sim, "lookalike_score": sim, "ranked_by": RANKED_BY_SIMILARITY,
    })


def audience_overlap(side: pd.DataFrame, a: int, rows: np.ndarray) -> np.ndarray:
    """Mean over the audience dimensions both describe of the histogram intersection
    sum_s min(share_a, share_r) between row a and each of `rows` (NaN: none shared)."""
    total, count = np.zeros(len(rows)), np.zeros(len(rows))
    for dim in DIMENSIONS:
        cols = list(segment_columns(side.columns, AUDIENCE_PREFIX, dim).values())
        if not cols:
            continue
        m = side[cols].to_numpy(np.float64)
        inter = np.minimum(m[a], m[rows]).sum(axis=1)
        ok = ~np.isnan(inter)
        total[ok] += inter[ok]
        count[ok] += 1
    return np.divide(total, count, out=np.full(len(rows), np.nan), where=count > 0)


def evaluate_seeds(ranker, n_seeds: int = 100, k: int = 10, seed: int = 0) -> dict[str, float]:
    """Lookalike quality: for random micro-influencer seeds, the top-k brand-less lookalikes'
    share of the seed's niche and audience overlap with it (`audience_overlap`), against k
    random micro-influencers of the seed's niche (means over seeds)."""
    rng = np.random.default_rng(seed)
    micro = (ranker.followers >= 1_000) & (ranker.followers <= 100_000)
    niche = ranker.side["niche"].to_numpy(dtype=object)
    seeds = rng.choice(np.flatnonzero(micro), size=min(n_seeds, int(micro.sum())),
                       replace=False)
    niche_top, top, rand = [], [], []
    for s in seeds:
        mask = micro.copy()
        mask[s] = False
        rows, _ = ranker.lookalikes.nearest(ranker.lookalikes.query(np.array([s])), mask, k)
        peers = np.flatnonzero(mask & (niche == niche[s]))
        if len(peers) < k:
            continue
        niche_top.append(float(np.mean(niche[rows] == niche[s])))
        top.append(np.nanmean(audience_overlap(ranker.side, s, rows)))
        rand.append(np.nanmean(audience_overlap(ranker.side, s,
                                                rng.choice(peers, k, replace=False))))
    return {"seeds": len(top), "niche_share_top10": float(np.mean(niche_top)),
            "audience_overlap_top10": float(np.nanmean(top)),
            "audience_overlap_random_same_niche": float(np.nanmean(rand))}
