"""The catalogue truth: every micro-influencer's true conversion probability for sample brands.

The collaborations' truth (truth.parquet) covers only the pairs brands chose. The product's
job is the top of the whole catalogue, most of it never booked, so the generator also writes
truth_catalogue.parquet: for a sample of brands, at one instant after the last collaboration
(the world's end), every micro-influencer (config.MICRO_MIN_FOLLOWERS to MICRO_MAX_FOLLOWERS
followers, as the ranker's default filter) active by then, with the true log-odds terms of a
booking at its list price and p_true. A booking's own noise is left out (it is not known
before the booking): p_true is the probability the ranker should order by.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender import config
from recommender.world.collaborations import World, true_terms

CATALOGUE_FILE = "truth_catalogue.parquet"
CATALOGUE_BRANDS = 25


def sample_brands(rng: np.random.Generator, n_brands: int, k: int = CATALOGUE_BRANDS
                  ) -> np.ndarray:
    """`k` brand numbers (all when there are fewer), sorted."""
    return np.sort(rng.choice(n_brands, size=min(k, n_brands), replace=False))


def catalogue_truth(w: World, brands: np.ndarray, t: int, inf_ids: pd.Series,
                    brand_ids: pd.Series) -> pd.DataFrame:
    """brand_id, influencer_id, as_of, p_true and the logit_* terms (noise left out) of
    every (sample brand, micro-influencer active at `t` seconds) pair, brand by brand."""
    pop = w.pop
    micro = np.flatnonzero((pop.followers >= config.MICRO_MIN_FOLLOWERS)
                           & (pop.followers <= config.MICRO_MAX_FOLLOWERS)
                           & (pop.active_from <= t))
    inf = np.tile(micro, len(brands))
    brand = np.repeat(brands, len(micro))
    at = np.full(len(inf), t, dtype=np.int64)
    terms = true_terms(w, inf, brand, at, pop.price[inf], np.zeros(len(inf)))
    terms.pop("noise")
    logit = sum(terms.values(), w.story.intercept)
    return pd.DataFrame({
        "brand_id": brand_ids.take(brand).reset_index(drop=True),
        "influencer_id": inf_ids.take(inf).reset_index(drop=True),
        "as_of": pd.Series(pd.DatetimeIndex(at.astype("datetime64[s]").astype("datetime64[ns]"),
                                            tz="UTC")),
        "p_true": 1.0 / (1.0 + np.exp(-logit)),
    } | {f"logit_{k}": v for k, v in terms.items()})
