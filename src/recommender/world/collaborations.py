"""Collaborations: which brand books which influencer when, and what it truly converts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recommender.contract import NICHES
from recommender.world import params as P
from recommender.world.activity import Clock, followers_at, latent_engagement
from recommender.world.audience import audience_match
from recommender.world.brands import Brands
from recommender.world.population import Population, price_curve
from recommender.world.stories import STORIES, Story


@dataclass(frozen=True)
class World:
    """Everything a booking decision or an outcome depends on."""

    pop: Population
    brands: Brands
    clock: Clock
    fit: np.ndarray  # niche x category fit
    story: Story = field(default_factory=lambda: STORIES["default"])


def _season(clock: Clock) -> np.ndarray:
    """Relative booking volume per month: more before the holidays (peak in November)."""
    month_of_year = (clock.bounds[:-1].astype("datetime64[s]").astype("datetime64[M]")
                     .astype(np.int64) % 12) + 1
    return 1.0 + 0.2 * np.cos(2 * np.pi * (month_of_year - 11) / 12)


def _group_pick(rng: np.random.Generator, groups: np.ndarray, n_groups: int, want: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """A uniformly random member (index into `groups`) of group `want`; valid mask."""
    order = np.argsort(groups, kind="stable")
    counts = np.bincount(groups, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    c = counts[want]
    pos = starts[want] + np.floor(rng.uniform(size=np.shape(want)) * c).astype(np.int64)
    pos = np.clip(pos, 0, max(len(order) - 1, 0))
    return (order[pos] if len(order) else np.zeros(np.shape(want), np.int64)), c > 0


def _pick_repeats(rng: np.random.Generator, w: World, brand: np.ndarray,
                  hist: dict[str, np.ndarray]) -> np.ndarray:
    """For each booking, a past partner of the same brand (prefers converted ones); -1 if none."""
    j1, ok = _group_pick(rng, hist["brand"], len(w.brands), brand)
    j2, _ = _group_pick(rng, hist["brand"], len(w.brands), brand)
    if not ok.any():
        return np.full(len(brand), -1)
    pick = np.where(hist["converted"][j2] > hist["converted"][j1], j2, j1)
    return np.where(ok, hist["influencer"][pick], -1)


def _pick_new(rng: np.random.Generator, w: World, brand: np.ndarray, t: np.ndarray
              ) -> np.ndarray:
    """For each booking, the best of a few candidates from fitting niches (noisy choice); -1."""
    pop, brands = w.pop, w.brands
    n, c = len(brand), P.CANDIDATES
    niche_counts = np.bincount(pop.niche, minlength=len(NICHES))
    weights = (w.fit[:, brands.category[brand]].T + 0.12) * (niche_counts > 0)
    cum = np.cumsum(weights, axis=1)
    cum /= cum[:, -1:]
    u = rng.uniform(size=(n, c))
    niche = np.minimum((u[:, :, None] > cum[:, None, :]).sum(axis=2), len(NICHES) - 1)
    cand, _ = _group_pick(rng, pop.niche, len(NICHES), niche)

    b = brand[:, None]
    tt = np.broadcast_to(t[:, None], cand.shape)
    log_f = np.log10(np.maximum(followers_at(pop, w.clock, cand, tt), 1.0))
    s = w.story
    score = (
        s.choose_fit * w.fit[pop.niche[cand], brands.category[b]]
        + s.choose_audience * audience_match(pop.audience, brands.target, cand, b)
        + s.choose_engagement * latent_engagement(pop, w.clock, cand, tt)
        + s.choose_quality * pop.real_share[cand]
        - s.choose_size * (log_f - s.choose_size_peak) ** 2
        - s.choose_price * np.maximum(np.log(pop.price[cand] / brands.budget[b]), 0.0)
        + rng.gumbel(0.0, s.choose_temperature, (n, c))
    )
    score = np.where(pop.active_from[cand] <= tt, score, -np.inf)
    best = np.argmax(score, axis=1)
    rows = np.arange(n)
    return np.where(np.isfinite(score[rows, best]), cand[rows, best], -1)


def true_terms(w: World, inf: np.ndarray, brand: np.ndarray, t: np.ndarray, fee: np.ndarray,
               noise: np.ndarray) -> dict[str, np.ndarray]:
    """Each term of the true log-odds of bookings (the story's forms), without the intercept.

    Kept for truth.parquet and truth_catalogue.parquet (research on what is learnable)."""
    pop, brands, s = w.pop, w.brands, w.story
    log_f = np.log10(np.maximum(followers_at(pop, w.clock, inf, t), 1.0))
    overprice = np.log(np.maximum(fee, 1.0) / price_curve(log_f, pop.platform[inf]))
    return {
        "fit": s.fit * w.fit[pop.niche[inf], brands.category[brand]],
        "audience": s.audience * (s.audience_overlap(pop.audience, brands.target, inf, brand)
                                  - s.audience_centre),
        "quality": s.quality * (pop.real_share[inf] - P.CONV_QUALITY_CENTRE),
        "engagement": s.engagement * latent_engagement(pop, w.clock, inf, t),
        "influencer_effect": s.influencer_effect(pop.persuasion[inf]),
        "brand_effect": s.brand_effect(brands.baseline[brand]),
        "overprice": s.overprice * overprice,
        "size": s.size_term(log_f),
        "noise": noise,
    }


def _outcomes(rng: np.random.Generator, w: World, inf: np.ndarray, brand: np.ndarray,
              t: np.ndarray) -> dict[str, np.ndarray]:
    """Fee, true conversion probability, conversions and clicks of bookings."""
    pop = w.pop
    n = len(inf)
    f_t = followers_at(pop, w.clock, inf, t)
    log_f = np.log10(np.maximum(f_t, 1.0))
    fee = np.round(pop.price[inf] * np.exp(rng.normal(0.0, 0.15, n))
                   * (f_t / pop.followers[inf]) ** 0.6, 2)
    terms = true_terms(w, inf, brand, t, fee, rng.normal(0.0, w.story.noise_sigma, n))
    logit = sum(terms.values(), w.story.intercept)  # same order of additions as written
    p_true = 1.0 / (1.0 + np.exp(-logit))
    converted = rng.uniform(size=n) < p_true
    mean_extra = (P.EXTRA_CONVERSIONS_MEAN * (f_t / 1e4) ** 0.25
                  * np.exp(0.3 * pop.persuasion[inf]))
    shape = P.EXTRA_CONVERSIONS_SHAPE
    extra = rng.negative_binomial(shape, shape / (shape + mean_extra))
    conversions = np.where(converted, 1 + extra, 0).astype(np.int64)
    click_cr = np.interp(log_f, *P.CLICK_CR_ANCHORS)
    clicks = rng.poisson((conversions + 0.35) / click_cr * np.exp(rng.normal(0.0, 0.3, n)))
    return {
        "fee": fee, "p_true": p_true, "converted": converted,
        "conversions": conversions, "clicks": np.maximum(clicks, conversions).astype(np.int64),
    } | {f"logit_{name}": value for name, value in terms.items()}


def simulate_collaborations(rng: np.random.Generator, w: World) -> dict[str, np.ndarray]:
    """Month by month: brands book past partners or new influencers; outcomes are drawn.

    Returns arrays sorted by start time: influencer, brand, started_at (seconds), fee,
    p_true, converted, conversions, clicks and the terms of the true log-odds (`logit_*`).
    """
    hist: dict[str, np.ndarray] = {
        "influencer": np.zeros(0, np.int64), "brand": np.zeros(0, np.int64),
        "converted": np.zeros(0, bool),
    }
    parts: list[dict[str, np.ndarray]] = []
    season = _season(w.clock)
    per_brand = min(P.COLLABS_PER_BRAND_MONTH,
                    P.MAX_COLLABS_PER_INFLUENCER_MONTH * len(w.pop) / len(w.brands))
    for m in range(w.clock.months):
        lam = per_brand * w.brands.activity * season[m]
        brand = np.repeat(np.arange(len(w.brands)), rng.poisson(lam))
        lo, hi = w.clock.bounds[m], w.clock.bounds[m + 1]
        t = lo + np.floor(rng.uniform(size=len(brand)) * (hi - lo)).astype(np.int64)
        inf = _pick_new(rng, w, brand, t)
        repeat = rng.uniform(size=len(brand)) < P.REPEAT_SHARE
        if len(hist["brand"]):
            again = _pick_repeats(rng, w, brand, hist)
            inf = np.where(repeat & (again >= 0), again, inf)
        keep = inf >= 0
        brand, inf, t = brand[keep], inf[keep], t[keep]
        out = {"influencer": inf, "brand": brand, "started_at": t} | _outcomes(rng, w, inf,
                                                                               brand, t)
        parts.append(out)
        hist = {k: np.concatenate([hist[k], out[k]]) for k in hist}
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((merged["brand"], merged["influencer"], merged["started_at"]))
    return {k: v[order] for k, v in merged.items()}
