"""Stories of the synthetic world: the true conversion model's forms and how brands choose.

A story is the part of the generator that decides *what converts* (the terms of the true
log-odds and their sizes) and *whom brands book* (the bias of their choice). The rest of the
world (population, posts, prices, audiences) is the same in every story, so a model trained
and judged on several stories is judged on its ability to learn, not on one set of
constants. "default" is the world documented in shared/spec/calibration.md; the others
change functional forms and effect sizes. Add a story by adding an entry to STORIES.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.world import params as P
from recommender.world.audience import Shares

DIMENSIONS = ("age", "gender", "country")


@dataclass(frozen=True)
class Story:
    """Constants of the true conversion model and of the brands' choice of new partners."""

    name: str
    summary: str
    intercept: float = P.CONV_INTERCEPT
    fit: float = P.CONV_FIT
    audience: float = P.CONV_AUDIENCE
    audience_centre: float = P.CONV_AUDIENCE_CENTRE
    audience_dims: tuple[str, ...] = DIMENSIONS  # dimensions whose overlap converts
    quality: float = P.CONV_QUALITY
    engagement: float = P.CONV_ENGAGEMENT
    influencer_sigma: float = P.CONV_PERSUASION_SIGMA
    brand_sigma: float = P.CONV_BRAND_SIGMA
    overprice: float = P.CONV_OVERPRICE
    size_peak: float = P.CONV_SIZE_PEAK_LOG10
    size_curve: float = P.CONV_SIZE_CURVE  # log-odds per squared log10 follower off the peak
    size_slope: float = 0.0  # log-odds per log10 follower above the peak (a monotone part)
    noise_sigma: float = P.CONV_NOISE_SIGMA
    # brands' choice among candidates: weight of each thing they look at, and the spread
    choose_fit: float = 1.0
    choose_audience: float = 2.5
    choose_engagement: float = 0.5
    choose_quality: float = 1.0
    choose_size: float = 0.6
    choose_size_peak: float = 4.3
    choose_price: float = 0.3
    choose_temperature: float = P.SELECTION_TEMPERATURE

    def audience_overlap(self, a: Shares, b: Shares, a_idx: np.ndarray, b_idx: np.ndarray
                         ) -> np.ndarray:
        """Mean over this story's dimensions of sum(min(a, b)) (broadcast over indices)."""
        total = np.zeros(np.broadcast_shapes(np.shape(a_idx), np.shape(b_idx)))
        for dim in self.audience_dims:
            total += np.minimum(getattr(a, dim)[a_idx], getattr(b, dim)[b_idx]).sum(axis=-1)
        return total / len(self.audience_dims)

    def influencer_effect(self, persuasion: np.ndarray) -> np.ndarray:
        """The hidden influencer effect: the population's draw scaled to this story's sigma."""
        if self.influencer_sigma == P.CONV_PERSUASION_SIGMA:
            return persuasion
        return persuasion * (self.influencer_sigma / P.CONV_PERSUASION_SIGMA)

    def brand_effect(self, baseline: np.ndarray) -> np.ndarray:
        """The hidden brand effect: the brands' draw scaled to this story's sigma."""
        if self.brand_sigma == P.CONV_BRAND_SIGMA:
            return baseline
        return baseline * (self.brand_sigma / P.CONV_BRAND_SIGMA)

    def size_term(self, log_f: np.ndarray) -> np.ndarray:
        """Log-odds of reach: an inverted U around size_peak, plus a slope above it."""
        out = self.size_curve * (log_f - self.size_peak) ** 2
        if self.size_slope:
            out = out + self.size_slope * np.maximum(log_f - self.size_peak, 0.0)
        return out


STORIES: dict[str, Story] = {s.name: s for s in (
    Story("default", "the calibrated world: audience over three dimensions, moderate effects"),
    Story(
        "reach",
        "conversion peaks at 30k followers and falls fast off it; engagement matters twice "
        "as much; audience converts through age only; larger hidden effects; brands book "
        "bigger accounts and mostly ignore the audience",
        intercept=-2.0, audience=2.4, audience_dims=("age",), engagement=1.6,
        influencer_sigma=1.0, brand_sigma=0.6, size_peak=4.5, size_curve=-0.9,
        choose_audience=0.5, choose_engagement=0.2, choose_size=0.3, choose_size_peak=4.8,
    ),
    Story(
        "niche",
        "the niche fit decides; smaller accounts convert better (monotone in followers); "
        "engagement matters little; audience converts through country only; small hidden "
        "effects; brands choose almost at random among their niche's candidates",
        intercept=-2.6, fit=2.6, audience=2.0, audience_dims=("country",), quality=3.0,
        engagement=0.3, influencer_sigma=0.4, brand_sigma=0.25, size_peak=3.0, size_curve=0.0,
        size_slope=-0.6, choose_fit=2.0, choose_audience=1.0, choose_temperature=2.0,
    ),
)}
DEFAULT_STORY = "default"


def get_story(name: str) -> Story:
    """The story called `name`; ValueError naming the known ones otherwise."""
    try:
        return STORIES[str(name).strip().lower()]
    except KeyError:
        raise ValueError(f"story {name!r}: must be one of {', '.join(STORIES)}") from None
