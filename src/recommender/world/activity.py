"""Post histories: the world's clock, follower growth, engagement drift and post engagement."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.world import params as P
from recommender.world.population import Population

_INSTAGRAM, _TIKTOK, _YOUTUBE = 0, 1, 2


@dataclass(frozen=True)
class Clock:
    """The world's period [start, end) in integer UTC seconds, cut at month starts."""

    bounds: np.ndarray  # int64 seconds, months + 1 month starts (last = end)

    @classmethod
    def ending_at(cls, end: pd.Timestamp, months: int) -> Clock:
        stamps = pd.date_range(end=end, periods=months + 1, freq="MS", tz="UTC")
        return cls(bounds=(stamps.as_unit("s").asi8).astype(np.int64))

    @property
    def start(self) -> int:
        return int(self.bounds[0])

    @property
    def end(self) -> int:
        return int(self.bounds[-1])

    @property
    def months(self) -> int:
        return len(self.bounds) - 1

    def month_position(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Month number and fraction of the month elapsed at each instant `t`."""
        k = np.clip(np.searchsorted(self.bounds, t, side="right") - 1, 0, self.months - 1)
        frac = (t - self.bounds[k]) / (self.bounds[k + 1] - self.bounds[k])
        return k, np.clip(frac, 0.0, 1.0)


def followers_at(pop: Population, clock: Clock, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Follower count at instant `t` (float): grows or shrinks towards today's `followers`."""
    years_left = (clock.end - t) / P.SECONDS_PER_YEAR
    return pop.followers[idx] * np.exp(-pop.growth[idx] * years_left)


def latent_engagement(pop: Population, clock: Clock, idx: np.ndarray, t: np.ndarray
                      ) -> np.ndarray:
    """Hidden log engagement level of influencer `idx` at instant `t` (level + drift)."""
    k, frac = clock.month_position(t)
    drift = pop.drift[idx, k] * (1 - frac) + pop.drift[idx, k + 1] * frac
    return pop.er_effect[idx] + drift


def _niche_multiplier() -> np.ndarray:
    return P.by_niche(P.NICHE_MEDIAN_ER) / P.ORGANIC_MEDIAN_ER * P.ER_LEVEL


def post_engagement(rng: np.random.Generator, pop: Population, clock: Clock, idx: np.ndarray,
                    t: np.ndarray, log_boost: np.ndarray) -> dict[str, np.ndarray]:
    """Likes, comments, views (NaN where not reported) and followers_at_post of posts."""
    n = len(idx)
    f_t = followers_at(pop, clock, idx, t)
    log_f = np.log10(np.maximum(f_t, 1.0))
    platform = pop.platform[idx]
    noise = rng.normal(0.0, P.ER_POST_SIGMA, n)
    level = np.exp(latent_engagement(pop, clock, idx, t) + noise + log_boost)
    level *= _niche_multiplier()[pop.niche[idx]]
    views = f_t * np.exp(pop.view_ratio[idx] + rng.normal(0.0, 0.5, n) + 0.5 * noise)

    per_view = np.where(
        platform == _TIKTOK,
        np.interp(log_f, *P.TIKTOK_VIEW_ER),
        np.interp(log_f, *P.YOUTUBE_VIEW_ER),
    )
    interactions = np.where(
        platform == _INSTAGRAM,
        f_t * np.interp(log_f, P.ER_ANCHORS_LOG10, P.ER_ANCHORS) * level,
        views * per_view * level,
    )
    comment_share = np.exp(pop.comment_ratio[idx] + rng.normal(0.0, 0.3, n))
    comment_share = comment_share / (1 + comment_share)
    likes = rng.poisson(interactions * (1 - comment_share))
    comments = rng.poisson(interactions * comment_share)
    reported = (platform != _INSTAGRAM) | (rng.uniform(size=n) < P.INSTAGRAM_VIEW_SHARE)
    views = np.where(reported, np.floor(views), np.nan)
    return {
        "likes": likes.astype(np.int64),
        "comments": comments.astype(np.int64),
        "views": views,
        "followers_at_post": np.rint(f_t).astype(np.int64),
    }


def organic_schedule(rng: np.random.Generator, pop: Population, clock: Clock,
                     members: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(influencer index, posted_at seconds) of every organic post, by each account's cadence;
    of the influencers `members` only (indices, ascending) when given."""
    members = np.arange(len(pop), dtype=np.int64) if members is None else members
    active = (clock.end - pop.active_from[members]) / (7 * 86_400)
    counts = rng.poisson(pop.cadence[members] * active)
    idx = np.repeat(members, counts)
    span = (clock.end - pop.active_from)[idx]
    t = pop.active_from[idx] + np.floor(rng.uniform(size=len(idx)) * span).astype(np.int64)
    return idx, t
