"""Calibration constants of the synthetic world (see shared/spec/calibration.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.contract import AGE_SEGMENTS, GENDER_SEGMENTS, NICHES, PLATFORMS

# The world's clock ends at a fixed instant, independent of the seed, so output is reproducible.
WORLD_END = pd.Timestamp("2026-07-01", tz="UTC")  # exclusive: the last day is 2026-06-30
SECONDS_PER_YEAR = 365.25 * 86_400

COUNTRIES = ("US", "GB", "DE", "FR", "BR", "IN", "ES", "IT", "CA", "AU")
COUNTRY_WEIGHTS = np.array([0.30, 0.08, 0.07, 0.07, 0.12, 0.12, 0.06, 0.06, 0.06, 0.06])
BRAND_COUNTRY_WEIGHTS = np.array([0.36, 0.10, 0.09, 0.08, 0.08, 0.07, 0.06, 0.06, 0.05, 0.05])
AUDIENCE_TOP_COUNTRIES = 5  # countries kept per audience; the rest is the unlisted long tail

PLATFORM_WEIGHTS = np.array([0.60, 0.25, 0.15])  # instagram, tiktok, youtube
assert len(PLATFORM_WEIGHTS) == len(PLATFORMS)

# Follower bands among accounts >= 1k (measured), plus a few nano accounts below 1k.
BAND_EDGES_LOG10 = np.array([3.0, 4.0, np.log10(50_000), 5.0, 6.0, 7.3])
BAND_SHARES = np.array([0.374, 0.364, 0.101, 0.139, 0.022])
# density slope in log10 followers inside each band (negative: fewer large accounts)
BAND_SLOPES = np.array([-0.3, -0.6, 0.0, -1.6, -2.5])
SUB_1K_SHARE = 0.03

# Niche mix: measured shares, scaled down to leave room for gaming, tech and finance.
MEASURED_NICHE_MIX = {
    "fashion": 0.351, "other": 0.169, "travel": 0.124, "family": 0.120, "food": 0.105,
    "beauty": 0.045, "home": 0.035, "fitness": 0.033, "pets": 0.017,
}
EXTRA_NICHE_MIX = {"gaming": 0.035, "tech": 0.025, "finance": 0.012}


def by_niche(mapping: dict[str, float]) -> np.ndarray:
    """A per-niche mapping as an array in contract.NICHES order."""
    return np.array([mapping[n] for n in NICHES], dtype=np.float64)


def niche_weights() -> np.ndarray:
    """Influencer niche probabilities in contract.NICHES order."""
    scale = 1.0 - sum(EXTRA_NICHE_MIX.values())
    mix = {k: v * scale for k, v in MEASURED_NICHE_MIX.items()} | EXTRA_NICHE_MIX
    w = by_niche(mix)
    return w / w.sum()


# Median engagement rate (likes + comments) / followers on Instagram, by log10 followers.
ER_ANCHORS_LOG10 = np.array([2.5, 3.5, 4.35, 4.85, 5.5, 6.3])
ER_ANCHORS = np.array([0.052, 0.039, 0.029, 0.024, 0.024, 0.023])
ORGANIC_MEDIAN_ER = 0.031
# Median engagement rate by niche (measured; gaming, tech and finance are assumptions).
NICHE_MEDIAN_ER = {
    "pets": 0.038, "travel": 0.036, "family": 0.035, "fashion": 0.035, "fitness": 0.029,
    "beauty": 0.029, "food": 0.025, "home": 0.025, "other": 0.020,
    "gaming": 0.030, "tech": 0.026, "finance": 0.022,
}
ER_LEVEL = 1.05  # corrects for the niche mix so that band medians land on ER_ANCHORS
# Per-view engagement on video platforms, by log10 followers (Untapper 2026, Modash).
TIKTOK_VIEW_ER = (np.array([3.0, 4.0, 5.0, 6.0]), np.array([0.085, 0.055, 0.045, 0.04]))
YOUTUBE_VIEW_ER = (np.array([3.3, 4.5, 5.5, 6.3]), np.array([0.0175, 0.009, 0.004, 0.0016]))
VIEW_RATIO_MEDIAN = np.array([0.35, 0.9, 0.3])  # views / followers by platform
INSTAGRAM_VIEW_SHARE = 0.4  # share of Instagram posts (reels) that report views

# Spread (log scale) of engagement: per influencer, per month of drift, per post.
ER_INFLUENCER_SIGMA = 0.35
ER_DRIFT_STEP_SIGMA = 0.25
ER_POST_SIGMA = 0.65
SPONSORED_ER_FACTOR = 0.47  # sponsored posts engage less than organic ones
CONVERTED_ER_BOOST = 0.45  # log boost of a sponsored post whose collaboration converted

# Price of one post (USD), Instagram, by log10 followers; platform multipliers.
PRICE_ANCHORS_LOG10 = np.array([2.0, 3.0, 4.0, 5.0, 5.7, 6.0, 7.0])
PRICE_ANCHORS_LOG10_USD = np.array([0.5, 1.2, 2.2, 2.75, 3.6, 4.0, 4.7])
PLATFORM_PRICE_FACTOR = np.array([1.0, 0.25, 2.0])
PRICE_SIGMA = 0.35

# Click-to-purchase conversion of influencer traffic, by log10 followers.
CLICK_CR_ANCHORS = (np.array([3.5, 4.5, 5.5, 6.3]), np.array([0.024, 0.022, 0.014, 0.009]))

# Audience age centre (index into AGE_SEGMENTS) by niche, and platform shift.
NICHE_AGE_CENTRE = {
    "beauty": 1.6, "fashion": 1.7, "fitness": 2.0, "food": 2.5, "travel": 2.3, "family": 2.6,
    "pets": 2.3, "gaming": 1.0, "tech": 2.0, "home": 2.8, "finance": 2.5, "other": 2.2,
}
PLATFORM_AGE_SHIFT = np.array([0.0, -0.8, 0.2])
NICHE_FEMALE_SHARE = {
    "beauty": 0.82, "fashion": 0.74, "fitness": 0.55, "food": 0.60, "travel": 0.58,
    "family": 0.75, "pets": 0.65, "gaming": 0.22, "tech": 0.28, "home": 0.70,
    "finance": 0.35, "other": 0.50,
}
# Brand categories: what kind of brands buy influencer posts.
CATEGORY_MIX = {
    "beauty": 0.16, "fashion": 0.21, "fitness": 0.09, "food": 0.12, "travel": 0.06,
    "family": 0.07, "pets": 0.05, "gaming": 0.05, "tech": 0.07, "home": 0.07,
    "finance": 0.03, "other": 0.02,
}

# Niche-category fit: 1 on the diagonal, partial for related pairs, small elsewhere.
RELATED = {
    ("beauty", "fashion"): 0.6, ("beauty", "fitness"): 0.3, ("fitness", "food"): 0.4,
    ("food", "family"): 0.4, ("food", "home"): 0.4, ("travel", "fashion"): 0.3,
    ("travel", "food"): 0.3, ("family", "home"): 0.6, ("family", "pets"): 0.3,
    ("gaming", "tech"): 0.6, ("tech", "finance"): 0.4, ("fitness", "fashion"): 0.3,
    ("home", "pets"): 0.2, ("family", "finance"): 0.2, ("travel", "finance"): 0.15,
}
UNRELATED_FIT = 0.05
OTHER_FIT = 0.2


def fit_matrix() -> np.ndarray:
    """Symmetric niche x category fit in [0, 1], in contract.NICHES order."""
    k = len(NICHES)
    pos = {n: i for i, n in enumerate(NICHES)}
    fit = np.full((k, k), UNRELATED_FIT)
    fit[pos["other"], :] = fit[:, pos["other"]] = OTHER_FIT
    for (a, b), v in RELATED.items():
        fit[pos[a], pos[b]] = fit[pos[b], pos[a]] = v
    np.fill_diagonal(fit, 1.0)
    return fit


# Conversion model (logit scale): p_true = sigmoid(sum of these terms).
CONV_INTERCEPT = -2.3
CONV_FIT = 1.6
CONV_AUDIENCE = 3.0
CONV_AUDIENCE_CENTRE = 0.55
CONV_QUALITY = 2.2
CONV_QUALITY_CENTRE = 0.8
CONV_ENGAGEMENT = 0.8
CONV_PERSUASION_SIGMA = 0.7
CONV_BRAND_SIGMA = 0.45
CONV_OVERPRICE = -0.35
CONV_SIZE_PEAK_LOG10 = 4.0
CONV_SIZE_CURVE = -0.35
CONV_NOISE_SIGMA = 0.3
EXTRA_CONVERSIONS_SHAPE = 0.6  # negative binomial shape of conversions beyond the first
EXTRA_CONVERSIONS_MEAN = 0.8

# Collaborations: per brand per month, share of repeat bookings, candidates per booking.
COLLABS_PER_BRAND_MONTH = 4.5
MAX_COLLABS_PER_INFLUENCER_MONTH = 0.5  # caps bookings when brands far outnumber influencers
REPEAT_SHARE = 0.35
CANDIDATES = 24
SELECTION_TEMPERATURE = 1.0

AGE = AGE_SEGMENTS
GENDER = GENDER_SEGMENTS
