"""Niche fit: niche equals category, and the niche x category conversion rate learned as of."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.features.history import Collaborations
from recommender.features.timeline import (
    Timeline,
    encode,
    int_cumsum,
    same_value,
    shrunk_rate,
)

# Pseudo-collaborations at the global rate added to each niche x category cell. A cell pools
# many brands and influencers, so it needs more evidence than one track record to move.
CELL_PRIOR_COLLABORATIONS = 20.0

NICHE_FEATURES = ["niche_match", "niche_category_rate"]


@dataclass(frozen=True)
class NicheCategoryRates:
    """Settled collaborations grouped by (influencer niche, brand category), sorted by the
    instant their outcome settled."""

    known: bool
    niches: pd.Index
    categories: pd.Index
    timeline: Timeline
    converted: np.ndarray  # exclusive running count of converted collaborations


def _cell(niche_code: np.ndarray, category_code: np.ndarray, n_categories: int) -> np.ndarray:
    """Cell code of each (niche, category) code pair; -1 when either was never seen."""
    known = (niche_code >= 0) & (category_code >= 0)
    return np.where(known, niche_code * n_categories + category_code, -1)


def niche_category_rates(ds, collabs: Collaborations) -> NicheCategoryRates:
    """Index the collaborations of `ds` by (influencer niche, brand category) cell."""
    niches = pd.Index(pd.unique(ds.influencers["niche"]))
    categories = pd.Index(pd.unique(ds.brands["category"]))
    # niche and category are required, so every collaboration has a cell
    cells = _cell(encode(ds.influencers["niche"], niches)[collabs.influencer],
                  encode(ds.brands["category"], categories)[collabs.brand], len(categories))
    tl = Timeline.build(cells, collabs.settled, max(len(niches) * len(categories), 1))
    return NicheCategoryRates(ds.has_table("collaborations"), niches, categories, tl,
                              int_cumsum(tl.take(collabs.converted)))


def niche_features(
    rates: NicheCategoryRates, niche: np.ndarray, inf_rows: np.ndarray,
    category: np.ndarray, brand_rows: np.ndarray, as_of_ns: np.ndarray, prior: np.ndarray,
) -> dict[str, np.ndarray]:
    """niche_match (1.0 / 0.0) and the cell's shrunk conversion rate over the collaborations
    settled before as_of.

    `niche` holds one value per influencer-side row and `category` one per brand-side row;
    pair i reads niche[inf_rows[i]] and category[brand_rows[i]] (codes, then integer gathers).
    """
    out = {"niche_match": same_value(niche, inf_rows, category, brand_rows)}
    if not rates.known:
        out["niche_category_rate"] = np.full(len(inf_rows), np.nan)
        return out
    cell = _cell(encode(niche, rates.niches)[inf_rows],
                 encode(category, rates.categories)[brand_rows], len(rates.categories))
    as_of_ns, prior = np.asarray(as_of_ns), np.asarray(prior)
    if len(cell) > 1 and as_of_ns.min() == as_of_ns.max():  # one instant: once per cell
        cells, inverse = np.unique(cell, return_inverse=True)
        rate = _cell_rate(rates, cells, as_of_ns[:len(cells)], prior[:len(cells)])
        out["niche_category_rate"] = rate[inverse]
    else:
        out["niche_category_rate"] = _cell_rate(rates, cell, as_of_ns, prior)
    return out


def _cell_rate(rates: NicheCategoryRates, cell: np.ndarray, as_of_ns: np.ndarray,
               prior: np.ndarray) -> np.ndarray:
    start, end = rates.timeline.before(cell, as_of_ns)
    return shrunk_rate(rates.converted[end] - rates.converted[start], end - start, prior,
                       CELL_PRIOR_COLLABORATIONS)
