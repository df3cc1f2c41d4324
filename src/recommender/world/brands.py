"""Brands of the synthetic world: category, market, target audience and hidden effects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.contract import NICHES
from recommender.world import params as P
from recommender.world.audience import Shares, age_shares, country_shares, gender_shares

_PREFIXES = np.array([
    "Lumi", "Nova", "Verde", "Bloom", "Kite", "Atlas", "Pure", "Urban", "Sol", "Mira",
    "Echo", "Terra", "Vela", "Oro", "Fern", "Pixel", "Coast", "Maple", "Zest", "Arc",
])
_SUFFIXES = np.array(["ly", "ora", "co", "wise", "nest", "ify", "lab", "hub", "io", "ista"])
_CATEGORY_WORD = {
    "beauty": "Cosmetics", "fashion": "Apparel", "fitness": "Active", "food": "Kitchen",
    "travel": "Trips", "family": "Kids", "pets": "Pets", "gaming": "Games", "tech": "Devices",
    "home": "Living", "finance": "Money", "other": "Goods",
}


@dataclass(frozen=True)
class Brands:
    """Every brand trait as arrays indexed by brand number (observed and hidden)."""

    category: np.ndarray  # int index into NICHES
    country: np.ndarray  # int index into COUNTRIES
    name: np.ndarray  # str
    baseline: np.ndarray  # hidden: log-odds effect on conversion
    activity: np.ndarray  # hidden: relative number of collaborations per month (mean 1)
    budget: np.ndarray  # hidden: typical fee the brand is happy to pay, USD
    target: Shares

    def __len__(self) -> int:
        return len(self.category)


def make_brands(rng: np.random.Generator, n: int) -> Brands:
    """Draw `n` brands."""
    mix = P.by_niche(P.CATEGORY_MIX)
    category = rng.choice(len(NICHES), size=n, p=mix / mix.sum())
    country = rng.choice(len(P.COUNTRIES), size=n, p=P.BRAND_COUNTRY_WEIGHTS)
    words = np.array([_CATEGORY_WORD[c] for c in NICHES])
    name = np.char.add(
        np.char.add(_PREFIXES[rng.integers(0, len(_PREFIXES), n)],
                    _SUFFIXES[rng.integers(0, len(_SUFFIXES), n)]),
        np.char.add(" ", words[category]),
    )
    activity = np.exp(rng.normal(0.0, 0.6, n))
    target = Shares(
        age=age_shares(rng, np.clip(P.by_niche(P.NICHE_AGE_CENTRE)[category]
                                    + rng.normal(0.0, 0.6, n), 0.0, 5.0),
                       rng.uniform(0.8, 1.6, n)),
        gender=gender_shares(rng, P.by_niche(P.NICHE_FEMALE_SHARE)[category]
                             + rng.normal(0.0, 0.1, n), 20.0),
        country=country_shares(rng, country, rng.uniform(6.0, 15.0, n), 3,
                               rng.uniform(0.85, 1.0, n)),
    )
    return Brands(
        category=category, country=country, name=name,
        baseline=rng.normal(0.0, P.CONV_BRAND_SIGMA, n),
        activity=activity / activity.mean(),
        budget=np.exp(rng.normal(np.log(400.0), 1.0, n)),
        target=target,
    )


def brands_frame(brands: Brands, ids: pd.Series) -> pd.DataFrame:
    """The brands table of the data contract."""
    return pd.DataFrame({
        "brand_id": ids,
        "name": pd.array(brands.name, dtype="str"),
        "category": pd.array(np.asarray(NICHES)[brands.category], dtype="str"),
        "country": pd.array(np.asarray(P.COUNTRIES)[brands.country], dtype="str"),
    })
