"""The influencer population: sizes, niches, quality, prices, latent traits and audiences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.contract import NICHES, PLATFORMS
from recommender.world import params as P
from recommender.world.audience import Shares, age_shares, country_shares, gender_shares


@dataclass(frozen=True)
class Population:
    """Every influencer trait as arrays indexed by influencer number (observed and hidden)."""

    platform: np.ndarray  # int index into PLATFORMS
    niche: np.ndarray  # int index into NICHES
    country: np.ndarray  # int index into COUNTRIES
    followers: np.ndarray  # int64, at the end of the world
    real_share: np.ndarray  # real_follower_share
    price: np.ndarray  # price_per_post, USD
    growth: np.ndarray  # hidden: yearly log growth of followers
    er_effect: np.ndarray  # hidden: log engagement level relative to peers
    drift: np.ndarray  # hidden: (n, months + 1) random walk of log engagement, month knots
    persuasion: np.ndarray  # hidden: log-odds effect on conversion
    view_ratio: np.ndarray  # hidden: log views per follower
    comment_ratio: np.ndarray  # hidden: log comments per like
    cadence: np.ndarray  # posts per week
    active_from: np.ndarray  # int64 seconds: when the account starts posting
    audience: Shares

    def __len__(self) -> int:
        return len(self.followers)


def _truncated_exponential(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray,
                           slope: np.ndarray) -> np.ndarray:
    """Draws on [lo, hi] with density proportional to exp(slope * x)."""
    u = rng.uniform(size=len(lo))
    w = hi - lo
    flat = np.abs(slope) < 1e-9
    s = np.where(flat, 1.0, slope)
    x = lo + np.log1p(u * np.expm1(s * w)) / s
    return np.where(flat, lo + u * w, x)


def sample_followers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Follower counts: measured band mix among accounts >= 1k, a few nano accounts below."""
    band_p = np.concatenate([[P.SUB_1K_SHARE], P.BAND_SHARES * (1 - P.SUB_1K_SHARE)])
    band = rng.choice(len(band_p), size=n, p=band_p)
    edges = np.concatenate([[1.7], P.BAND_EDGES_LOG10])
    slopes = np.concatenate([[0.0], P.BAND_SLOPES])
    x = _truncated_exponential(rng, edges[band], edges[band + 1], slopes[band])
    return np.clip(np.floor(10.0 ** x), 50, None).astype(np.int64)


def price_curve(log10_followers: np.ndarray, platform: np.ndarray) -> np.ndarray:
    """Typical (fair) price of one post in USD for this reach and platform."""
    base = 10.0 ** np.interp(log10_followers, P.PRICE_ANCHORS_LOG10, P.PRICE_ANCHORS_LOG10_USD)
    return base * P.PLATFORM_PRICE_FACTOR[platform]


def _real_follower_share(rng: np.random.Generator, log_f: np.ndarray) -> np.ndarray:
    """Two humps: most accounts mostly real, a separate cluster heavily fake."""
    p_fake = np.clip(0.17 + 0.03 * (log_f - 4.0), 0.05, 0.3)
    fake = rng.uniform(size=len(log_f)) < p_fake
    share = np.where(fake, rng.beta(9.0, 7.0, size=len(log_f)),
                     rng.beta(30.0, 2.5, size=len(log_f)))
    return np.round(np.clip(share, 0.02, 1.0), 3)


def make_population(rng: np.random.Generator, n: int, months: int, start_s: int, end_s: int
                    ) -> Population:
    """Draw `n` influencers for a world spanning [start_s, end_s) seconds in `months` months."""
    platform = rng.choice(len(PLATFORMS), size=n, p=P.PLATFORM_WEIGHTS)
    niche = rng.choice(len(NICHES), size=n, p=P.niche_weights())
    country = rng.choice(len(P.COUNTRIES), size=n, p=P.COUNTRY_WEIGHTS)
    followers = sample_followers(rng, n)
    log_f = np.log10(followers)
    price = price_curve(log_f, platform) * np.exp(rng.normal(0.0, P.PRICE_SIGMA, n))
    price = np.maximum(np.round(price), 5.0)

    steps = rng.normal(0.0, P.ER_DRIFT_STEP_SIGMA, (n, months))
    trend = rng.normal(0.0, 0.02, (n, 1))
    drift = np.concatenate([np.zeros((n, 1)), np.cumsum(steps + trend, axis=1)], axis=1)
    drift -= drift.mean(axis=1, keepdims=True)

    late = rng.uniform(size=n) < 0.1
    active_from = np.where(late, start_s + rng.uniform(size=n) * 0.8 * (end_s - start_s), start_s)

    age_centre = (P.by_niche(P.NICHE_AGE_CENTRE)[niche] + P.PLATFORM_AGE_SHIFT[platform]
                  + rng.normal(0.0, 0.5, n))
    female = P.by_niche(P.NICHE_FEMALE_SHARE)[niche] + rng.normal(0.0, 0.08, n)
    audience = Shares(
        age=age_shares(rng, np.clip(age_centre, 0.0, 5.0), rng.uniform(0.7, 1.4, n)),
        gender=gender_shares(rng, female, 12.0),
        country=country_shares(rng, country, rng.uniform(2.0, 8.0, n), P.AUDIENCE_TOP_COUNTRIES,
                               rng.uniform(0.75, 0.97, n)),
    )
    return Population(
        platform=platform, niche=niche, country=country, followers=followers,
        real_share=_real_follower_share(rng, log_f), price=price,
        growth=rng.normal(0.15, 0.25, n),
        er_effect=rng.normal(0.0, P.ER_INFLUENCER_SIGMA, n), drift=drift,
        persuasion=rng.normal(0.0, P.CONV_PERSUASION_SIGMA, n),
        view_ratio=np.log(P.VIEW_RATIO_MEDIAN[platform]) + rng.normal(0.0, 0.5, n),
        comment_ratio=np.log(0.035) + rng.normal(0.0, 0.4, n),
        cadence=np.clip(np.exp(rng.normal(np.log(1.4), 0.8, n)), 0.15, 7.0),
        active_from=active_from.astype(np.int64), audience=audience,
    )


def influencers_frame(pop: Population, ids: pd.Series) -> pd.DataFrame:
    """The influencers table of the data contract."""
    return pd.DataFrame({
        "influencer_id": ids,
        "platform": pd.array(np.asarray(PLATFORMS)[pop.platform], dtype="str"),
        "niche": pd.array(np.asarray(NICHES)[pop.niche], dtype="str"),
        "followers": pop.followers.astype(np.int64),
        "country": pd.array(np.asarray(P.COUNTRIES)[pop.country], dtype="str"),
        "real_follower_share": pop.real_share.astype(np.float64),
        "price_per_post": pop.price.astype(np.float64),
    })
