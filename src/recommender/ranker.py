"""The ranker: briefs in, ranked influencers out (filters, shortlist, scores, reasons, budget).

Two stages. The filters of a brief (followers, platform, country, price, niche, exclusions)
leave a set of candidates in the snapshot's catalogue. The first stage scores all of them
with an additive surrogate of the model (`recommender.shortlist`) and keeps the best
`shortlist_size` (plus every influencer with a track record with this brand); the second
builds the exact pair features of those and scores them with the model. Online scoring runs
LightGBM on one thread: on small inputs OpenMP start-up costs more than it saves.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recommender import config
from recommender.briefs import Brief, number, parse_as_of, parse_briefs, parse_top_n
from recommender.budget import select_within_budget
from recommender.cache import BoundedCache
from recommender.contract import DIMENSIONS
from recommender.encoded import BrandSide, EncodedCatalogue
from recommender.errors import UserError
from recommender.explain import reasons
from recommender.features import brand_profiles, inline_brand_profile, pair_context
from recommender.features.audience import AUDIENCE_PREFIX, segment_columns
from recommender.first_stage import FirstStage
from recommender.inference import CHECK_ROWS, TreePredictor
from recommender.model import ConversionModel, apply_calibration
from recommender.snapshot import Snapshot, load_snapshot

logger = logging.getLogger(__name__)

SHORTLIST_SIZE = 1_000
BRAND_CACHE_SIZE = 4_096  # encoded brand sides kept (known brands, inline descriptions)
ONLINE_THREADS = 1
CATEGORICAL_SIDE = ("platform", "niche", "influencer_country")
OUTPUT_COLUMNS = ["brief", "brand_id", "rank", "influencer_id", "handle", "profile_url", "score",
                  "platform", "niche", "country", "followers", "engagement_rate_90d",
                  "audience_match", "price_per_post", "reasons", "as_of", "snapshot_as_of"]
BUDGET_COLUMNS = ["budget", "total_price", "expected_conversions", "unpriced_left_out"]
LOOKALIKE_COLUMNS = ["similarity", "lookalike_score", "ranked_by"]


class Ranker:
    """Ranks the influencers of one snapshot for briefs, with one conversion model."""

    def __init__(self, model: ConversionModel, snapshot: Snapshot | Path | str,
                 shortlist_size: int = SHORTLIST_SIZE, inference: str = "auto",
                 preference=None) -> None:
        """`inference`: how the shortlist is scored, "auto" (compiled with lleaves where
        installed and exact, see `recommender.inference`), "lleaves" or "lightgbm"; the
        returned rows are always scored by Booster.predict itself. `preference`: planners'
        preference (recommender.preference), blended into the order when given."""
        snap = snapshot if isinstance(snapshot, Snapshot) else load_snapshot(snapshot)
        self.model, self.snapshot, self.shortlist_size = model, snap, shortlist_size
        self.preference = preference
        ds = snap.ds
        # small vocabularies as categoricals: per-request takes and comparisons on codes
        side = snap.influencer_side.astype({c: "category" for c in CATEGORICAL_SIDE})
        self.context = pair_context(ds)
        self.side = side
        inf = ds.influencers
        self.ids = pd.Index(inf["influencer_id"])
        self.followers = inf["followers"].to_numpy(np.int64)
        self.price = inf["price_per_post"].to_numpy(np.float64)
        self.country = inf["country"].to_numpy(dtype=object)
        # names for planners (contract v2, optional): None where missing (null in JSON)
        self.names = {c: np.where(pd.isna(inf[c]), None, inf[c]).astype(object) if c in inf
                      else np.full(len(inf), None, dtype=object)
                      for c in ("handle", "profile_url")}
        self.codes = {c: pd.factorize(inf[c]) for c in ("platform", "niche", "country")}
        self._code_of = {c: {v: i for i, v in enumerate(u)} for c, (_, u) in self.codes.items()}
        self.niches = pd.Index(self.codes["niche"][1])
        self.brands = brand_profiles(ds, pd.DataFrame({"brand_id": ds.brands["brand_id"],
                                                       "as_of": snap.as_of}), self.context)
        self.brand_index = pd.Index(self.brands["brand_id"])
        c = ds.collaborations
        rows = self.ids.get_indexer(c["influencer_id"])
        self.history = {b: np.unique(g) for b, g in
                        pd.Series(rows).groupby(c["brand_id"].to_numpy())}
        self.first_stage = FirstStage(snap.shortlist, side, self.context)
        # first requests for known brands, and for inline ones of their categories, pay no set-up
        self.first_stage.warm(pd.concat([self.brands, self.brands.assign(brand_country=None)]))
        self.encoded = EncodedCatalogue(model, side, self.context, self.first_stage, snap.as_of)
        self.trees = TreePredictor(model.booster_, inference)
        self._brand_sides = BoundedCache(BRAND_CACHE_SIZE)
        self.audiences = [
            side[cols].to_numpy(np.float64) for cols in (
                list(segment_columns(side.columns, AUDIENCE_PREFIX, d).values())
                for d in DIMENSIONS) if cols]
        self._warm_trees()

    def _warm_trees(self) -> None:
        """Compile (or load the compiled) trees now and check them on real pairs, so that no
        request pays for it."""
        if len(self.ids) and len(self.brands):
            brief = Brief(label=0, brand_id=str(self.brand_index[0]), known=True)
            rows = np.arange(min(len(self.ids), CHECK_ROWS))
            self.trees.predict(self.encoded.rows(rows, self.brand_side(brief)), ONLINE_THREADS)

    @cached_property
    def lookalikes(self):
        """The catalogue's lookalike index (recommender.lookalike), built on first use."""
        from recommender.lookalike import LookalikeIndex, build_profiles

        return LookalikeIndex(build_profiles(self.side, self.followers))

    @property
    def as_of(self) -> pd.Timestamp:
        """The snapshot's as_of: features use data strictly before it."""
        return self.snapshot.as_of

    # --- briefs --------------------------------------------------------------------------

    def recommend(self, briefs: pd.DataFrame | Mapping[str, Any],
                  top_n: Any = config.DEFAULT_TOP_N,
                  as_of: Any = None, budget: Any = None, *,
                  exhaustive: bool = False) -> pd.DataFrame:
        """One row per recommendation (see OUTPUT_COLUMNS; BUDGET_COLUMNS too with a budget).

        Raises UserError naming the field and value of a bad brief or parameter.
        `exhaustive=True` skips the first stage (every filtered candidate through the model).
        """
        n = parse_top_n(top_n)
        when = parse_as_of(as_of, self.as_of)
        cash = number("budget", budget, positive=True)
        parsed = parse_briefs(briefs, self.brand_index, self.niches)
        frames = [self._one(b, n, when, cash, exhaustive) for b in parsed]
        columns = (OUTPUT_COLUMNS + (BUDGET_COLUMNS if cash is not None else [])
                   + (LOOKALIKE_COLUMNS if any(b.like for b in parsed) else []))
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        return pd.concat(frames, ignore_index=True)[columns]

    def candidates(self, brief: Brief) -> np.ndarray:
        """Catalogue rows that pass the brief's filters."""
        return np.flatnonzero(self._mask(brief))

    def _mask(self, brief: Brief) -> np.ndarray:
        mask = (self.followers >= brief.min_followers) & (self.followers <= brief.max_followers)
        for col, value in (("platform", brief.platform), ("niche", brief.niche),
                           ("country", brief.country)):
            if value is not None:
                mask &= self.codes[col][0] == self._code_of[col].get(value, -2)
        if brief.max_price is not None:
            mask &= self.price <= brief.max_price  # NaN (no price) is never <= anything
        if brief.exclude:
            rows = self.ids.get_indexer(list(brief.exclude))
            mask[rows[rows >= 0]] = False
        return mask

    def brand_profile(self, brief: Brief) -> pd.DataFrame:
        """The one-row brand side of a brief, as of the snapshot."""
        if brief.known:
            return self.brands.iloc[[self.brand_index.get_loc(brief.brand_id)]].reset_index(
                drop=True)
        extra = {"brand_id": brief.brand_id} if brief.brand_id else {}
        try:
            return inline_brand_profile(brief.category, brief.brand_country, brief.targets,
                                        as_of=self.as_of, context=self.context, **extra)
        except ValueError as exc:
            raise UserError(f"brief {brief.label}: {exc}") from None

    def _shortlist(self, mask: np.ndarray, brand: BrandSide, brief: Brief, top_n: int,
                   priced: bool) -> np.ndarray:
        rows = np.flatnonzero(mask)
        k = max(self.shortlist_size, 3 * top_n)
        if len(rows) <= k:
            return rows
        profile = brand.profile
        keep = [self.first_stage.top(rows, profile, k, plan=brand.plan)]
        if priced:  # budget mode also wants cheap candidates: rank by log(p / price) as well
            keep.append(self.first_stage.top(rows, profile, k, -np.log(np.maximum(
                self.price[rows], 1.0)), plan=brand.plan))
        if brief.known and brief.brand_id in self.history:
            history = self.history[brief.brand_id]
            keep.append(history[mask[history]])
        return np.unique(np.concatenate(keep))

    def brand_side(self, brief: Brief) -> BrandSide:
        """The brief's brand profile, encoded for the model; kept (a few thousand at most)
        by brand id, or by the inline description."""
        key = (brief.brand_id if brief.known else
               (brief.brand_id, brief.category, brief.brand_country,
                tuple(sorted((d, tuple(sorted(s.items()))) for d, s in brief.targets.items()))))
        side = self._brand_sides.get(key)
        if side is None:
            side = self.encoded.brand(self.brand_profile(brief))
            self._brand_sides.put(key, side)
        return side

    def score_rows(self, rows: np.ndarray, brand: pd.DataFrame | BrandSide,
                   when: pd.Timestamp, compiled: bool = False
                   ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """Feature values by name (`EncodedCatalogue.columns`), encoded matrix, raw and
        calibrated p of catalogue `rows` paired with a brand (profile or encoded side).
        `compiled`: scored by the compiled trees where available (within
        `inference.TOLERANCE` of Booster.predict), else by Booster.predict itself."""
        side = brand if isinstance(brand, BrandSide) else self.encoded.brand(brand)
        gap = (when - self.as_of) / pd.Timedelta(days=1)  # the snapshot carried forward
        M = self.encoded.rows(rows, side, gap)  # encoded once: scores and contributions read it
        raw = (self.trees.predict(M, ONLINE_THREADS) if compiled
               else self.model.raw_of_matrix(M, ONLINE_THREADS))
        p = apply_calibration(self.model.calibration_, raw)
        return self.encoded.columns(M, rows, side), M, raw, p

    def _one(self, brief: Brief, top_n: int, when: pd.Timestamp, budget: float | None,
             exhaustive: bool) -> pd.DataFrame:
        mask = self._mask(brief)
        if brief.like:
            from recommender.lookalike import rank_lookalikes

            return rank_lookalikes(self, brief, mask, top_n, when, budget)
        unpriced = 0
        if budget is not None:
            unpriced = int((mask & np.isnan(self.price)).sum())
            mask &= ~np.isnan(self.price)
            self._check_budget(brief, mask, unpriced, budget)
        brand = self.brand_side(brief)
        if exhaustive:
            rows = np.flatnonzero(mask)
        else:
            rows = self._shortlist(mask, brand, brief, top_n, budget is not None)
        if not len(rows):
            return pd.DataFrame()
        compiled = self.preference is None  # the blend reads every row's exact p
        X, M, raw, p = self.score_rows(rows, brand, when, compiled=compiled)
        key = p  # the order: p itself (updated in place below), or blended with preference
        if budget is None:
            if self.preference is not None:
                key = self.preference.blend(p, pd.DataFrame(X))
            chosen = np.lexsort((rows, -raw, -key))[:top_n]
        else:
            sel = select_within_budget(p, self.price[rows], budget, top_n,
                                       [a[rows] for a in self.audiences])
            chosen = sel.chosen
        if not len(chosen):  # nothing fits the budget
            return pd.DataFrame()
        if compiled and self.trees.backend != "lightgbm":  # returned: Booster.predict's figures
            raw[chosen] = self.model.raw_of_matrix(M[chosen], ONLINE_THREADS)
            p[chosen] = apply_calibration(self.model.calibration_, raw[chosen])
        chosen = chosen[np.lexsort((rows[chosen], -raw[chosen], -key[chosen]))]
        extra = {} if budget is None else {
            "budget": budget, "total_price": sel.total_price,
            "expected_conversions": float(p[chosen].sum()), "unpriced_left_out": unpriced}
        contrib = self.model.contributions_of_matrix(M[chosen], ONLINE_THREADS)
        return self._output(brief, rows[chosen], X, chosen, p[chosen], contrib, when, extra)

    @staticmethod
    def _check_budget(brief: Brief, priced: np.ndarray, unpriced: int, budget: float) -> None:
        """A budget no shortlist can come from is an error that says why, not an empty answer
        that reads as "no influencer matches the filters"."""
        if not priced.any() and unpriced:
            raise UserError(f"brief {brief.label}: budget = {budget:g}: no candidate has a "
                            f"price: all {unpriced:,} that pass the filters lack "
                            "price_per_post and are left out; rank without a budget, or add "
                            "prices to influencers")

    def _output(self, brief: Brief, rows: np.ndarray, X: Mapping[str, np.ndarray],
                chosen: np.ndarray, p: np.ndarray, contrib: pd.DataFrame, when: pd.Timestamp,
                extra: dict[str, Any]) -> pd.DataFrame:
        """The answer rows of catalogue `rows`, which are `chosen` of the scored rows `X`."""
        return pd.DataFrame({
            "brief": [brief.label] * len(rows), "brand_id": brief.brand_id,
            "rank": np.arange(1, len(rows) + 1), "influencer_id": X["influencer_id"][chosen],
            **{c: names[rows] for c, names in self.names.items()},
            "score": p, "platform": X["platform"][chosen], "niche": X["niche"][chosen],
            "country": self.country[rows],
            "followers": self.followers[rows], "engagement_rate_90d": X["er_mean_90d"][chosen],
            "audience_match": X["audience_match_mean"][chosen],
            "price_per_post": self.price[rows], "reasons": reasons(contrib, X, rows=chosen),
            "as_of": when.isoformat(), "snapshot_as_of": self.as_of.isoformat(), **extra,
        })


def brief_frame(**fields: Any) -> pd.DataFrame:
    """A one-brief table from keyword fields, leaving out those that are None."""
    return pd.DataFrame([{k: v for k, v in fields.items() if v is not None}])


