"""The first stage at query time: the fitted surrogate (`recommender.shortlist`) over a catalogue.

At load, the influencer-side part of every catalogue row is summed (two sums: niche equal to
the brand's category or not) and the audience shares are laid out as dense matrices. Per
brief only the pair features are computed, over all candidates at once: niche and country
terms through a table per code, audience match and lift as matrix operations, with the same
definitions as `recommender.features.audience` (a test checks they agree), and binned
through a fine lookup grid instead of a binary search.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from recommender.cache import BoundedCache
from recommender.contract import DIMENSIONS
from recommender.errors import UserError
from recommender.features import PairContext
from recommender.features.audience import AUDIENCE_PREFIX, TARGET_PREFIX, segment_columns
from recommender.features.history import global_rate
from recommender.features.niche import niche_features
from recommender.features.timeline import to_ns
from recommender.shortlist import FORMAT_VERSION, bin_index

AUDIENCE_PAIR_PREFIXES = ("audience_match_", "target_lift_")
SEED = 4  # top() weighs the audience of SEED x k rows first, for a tight lower bound
GRID = 4096  # cells of the lookup grid between a feature's first and last bin edge
CACHE_SIZE = 4096  # (category, brand country, as_of) weight tables kept (a few numbers each)


def _grid(spec: Mapping[str, Any]) -> tuple[float, float, np.ndarray] | None:
    """(first edge, cells per unit, weight per cell then of missing) of a numeric pair
    feature; a value within 1/GRID of the edge span from an inner edge may take the
    neighbouring bin's weight (the surrogate only shortlists)."""
    edges, weights = np.asarray(spec["edges"]), np.asarray(spec["weights"])
    if len(edges) < 2 or edges[-1] <= edges[0]:
        return None
    lo, hi = float(edges[0]), float(edges[-1])
    left = lo + (hi - lo) * np.arange(GRID) / GRID
    cells = np.concatenate([[0], np.searchsorted(edges, left, side="right"), [len(edges)],
                            [len(edges) + 1]])
    return lo, GRID / (hi - lo), weights[cells].astype(np.float32)


class FirstStage:
    """The surrogate applied to one catalogue (the snapshot's influencer side)."""

    def __init__(self, surrogate: Mapping[str, Any], influencer_side: pd.DataFrame,
                 context: PairContext) -> None:
        if surrogate.get("format_version") != FORMAT_VERSION:
            raise UserError(f"the model's first stage has format_version "
                            f"{surrogate.get('format_version')!r}, this code reads "
                            f"{FORMAT_VERSION}: log it again with `recommender refresh`")
        self.pair_specs = [s for s in surrogate["features"] if s["side"] == "pair"]
        self._grids = {s["name"]: _grid(s) for s in self.pair_specs if s["kind"] == "numeric"}
        base = np.zeros((2, len(influencer_side)), np.float32)  # [niche differs, matches]
        for spec in surrogate["features"]:
            if spec["side"] == "influencer":
                base += np.asarray(spec["weights"])[:, bin_index(spec, influencer_side[
                    spec["name"]])]
        self.base = base
        # the largest the audience features' weights can add up to (float32 sums: a margin)
        self.audience_max = 1e-3 + sum(
            float(np.max(self._grids[sp["name"]][2] if self._grids.get(sp["name"])
                         else sp["weights"]))
            for sp in self.pair_specs if sp["name"].startswith(AUDIENCE_PAIR_PREFIXES))
        self._context = context
        self._cache = BoundedCache(CACHE_SIZE)  # the scoring server answers in threads
        self._niche_codes, self._niches = pd.factorize(influencer_side["niche"])
        self._country_codes, self._countries = pd.factorize(influencer_side["influencer_country"])
        self._audience = {}  # dim -> ({segment: float32 shares, NaN as 0}, described, rows not)
        for dim in DIMENSIONS:
            cols = segment_columns(influencer_side.columns, AUDIENCE_PREFIX, dim)
            if cols:
                shares = {segment: np.nan_to_num(influencer_side[c].to_numpy(np.float32))
                          for segment, c in cols.items()}
                known = influencer_side[next(iter(cols.values()))].notna().to_numpy()
                self._audience[dim] = (shares, known.astype(np.float32), np.flatnonzero(~known))

    def pair_tables(self, brand: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """`_pair_tables` of the brand, cached by (category, brand country, as_of)."""
        return self._cached(brand)[0]

    def _pair_tables(self, brand: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Pair features that depend on the influencer only through a code (niche, country):
        feature -> (value per code, code of each catalogue row); code -1 reads the last value."""
        b = brand.iloc[0]
        ctx = self._context
        as_of = to_ns([b["as_of"]])
        n = len(self._niches)
        per_niche = niche_features(
            ctx.niche_rates, np.asarray(self._niches, dtype=object), np.arange(n),
            np.array([b["category"]], dtype=object), np.zeros(n, np.int64), np.repeat(as_of, n),
            np.repeat(global_rate(ctx.collabs, as_of), n))
        country = b["brand_country"]
        per_country = np.append(
            (self._countries == country).astype(np.float64) if pd.notna(country)
            else np.full(len(self._countries), np.nan), np.nan)  # last: no country
        return {"niche_match": (per_niche["niche_match"], self._niche_codes),
                "niche_category_rate": (per_niche["niche_category_rate"], self._niche_codes),
                "country_match": (per_country, self._country_codes)}

    def target_plan(self, brand: pd.DataFrame) -> list[tuple[str, list[tuple[str, float]], float]]:
        """Per described audience dimension of the brand: (dim, [(segment, share > 0)], the
        catalogue-average base of the lift); read once per brief."""
        b = brand.iloc[0]
        average = self._context.audience_average
        plan = []
        for dim in DIMENSIONS:
            target = {segment: b[c] for segment, c in
                      segment_columns(brand.columns, TARGET_PREFIX, dim).items()}
            if dim not in self._audience or not any(pd.notna(v) for v in target.values()):
                continue
            segments, base = [], 0.0
            for seg, t in target.items():
                if pd.isna(t) or t <= 0:
                    continue
                avg = average.get(f"{AUDIENCE_PREFIX}{dim}:{seg}", 0.0)
                base += t * (0.0 if pd.isna(avg) else float(avg))
                segments.append((seg, float(t)))
            plan.append((dim, segments, base))
        return plan

    def _audience_features(self, plan: list, rows: np.ndarray | None = None
                           ) -> dict[str, np.ndarray]:
        """audience_match_<dim>, target_lift_<dim> and audience_match_mean of every catalogue
        row (or of `rows`) for a brand's `_targets`, in float32 (contiguous arrays, in place)."""
        n = len(self.base[0]) if rows is None else len(rows)
        out = {f"{f}_{dim}": np.full(n, np.nan, np.float32) for dim in DIMENSIONS
               for f in ("audience_match", "target_lift")}
        total, counted = np.zeros(n, np.float32), np.zeros(n, np.float32)
        tmp = np.empty(n, np.float32)
        for dim, segments, base in plan:
            shares, known, unknown = self._audience[dim]
            if rows is not None:
                known = known[rows]
                unknown = np.flatnonzero(known == 0)
            match, dot = np.zeros(n, np.float32), np.zeros(n, np.float32)
            for seg, t in segments:
                if seg in shares:
                    a = shares[seg] if rows is None else shares[seg][rows]
                    match += np.minimum(a, np.float32(t), out=tmp)
                    dot += np.multiply(a, np.float32(t), out=tmp)
            total += match  # an undescribed audience has all shares 0, hence match 0
            counted += known
            match[unknown] = np.nan
            if base > 0:
                dot *= np.float32(1.0 / base)
            else:
                dot[:] = np.nan
            dot[unknown] = np.nan
            out[f"audience_match_{dim}"], out[f"target_lift_{dim}"] = match, dot
        mean = np.full(n, np.nan, np.float32)
        out["audience_match_mean"] = np.divide(total, counted, out=mean, where=counted > 0)
        return out

    def pair_values(self, rows: np.ndarray, brand: pd.DataFrame) -> dict[str, np.ndarray]:
        """The surrogate's pair features of catalogue `rows` with a one-row brand profile:
        the values `pair_features` gives, computed from per-catalogue codes and matrices."""
        out = {name: values[codes[rows]]
               for name, (values, codes) in self.pair_tables(brand).items()}
        out.update({k: v[rows] for k, v in self._audience_features(
            self.target_plan(brand)).items()})
        return out

    def _weights(self, spec: Mapping[str, Any], values: np.ndarray) -> np.ndarray:
        grid = self._grids.get(spec["name"])
        if grid is None:
            return np.asarray(spec["weights"])[bin_index(spec, values)]
        lo, scale, table = grid
        cell = values - np.float32(lo)
        cell *= np.float32(scale)
        cell += 1
        np.clip(cell, 0, GRID + 1, out=cell)
        cell[np.isnan(cell)] = GRID + 2  # the table's last entry: missing
        return table[cell.astype(np.intp)]

    def _cached(self, brand: pd.DataFrame) -> tuple:
        """(pair tables, niche matches per niche code, weight per niche code, weight per
        country code): they depend on the brief only through (category, brand country,
        as_of), so they are computed once per such key and kept."""
        b = brand.iloc[0]
        country = None if pd.isna(b["brand_country"]) else b["brand_country"]
        key = (b["category"], country, pd.Timestamp(b["as_of"]).value)
        cached = self._cache.get(key)
        if cached is None:
            tables = self._pair_tables(brand)
            weights = {}
            for spec in self.pair_specs:
                if spec["name"] in tables:  # weigh once per code
                    values, _ = tables[spec["name"]]
                    weights[spec["name"]] = np.asarray(spec["weights"], np.float32)[
                        bin_index(spec, values)]
            cached = (tables, tables["niche_match"][0] == 1.0,
                      weights["niche_match"] + weights["niche_category_rate"],
                      weights["country_match"])
            self._cache.put(key, cached)
        return cached

    def _code_part(self, brand: pd.DataFrame) -> np.ndarray:
        """Influencer side + niche and country terms for every catalogue row: three gathers
        of the cached weights per code."""
        _, matched, per_niche, per_country = self._cached(brand)
        niche = self._niche_codes
        part = np.where(matched[niche], self.base[1], self.base[0])
        part += per_niche[niche]
        part += per_country[self._country_codes]
        return part

    def warm(self, brands: pd.DataFrame) -> None:
        """Fill the cache for the (category, country, as_of) of every row of `brands`."""
        keys = brands[["category", "brand_country", "as_of"]].astype(str)
        for i in np.flatnonzero(~keys.duplicated().to_numpy()):
            self._code_part(brands.iloc[[i]])

    def _audience_part(self, plan: list, rows: np.ndarray | None = None) -> np.ndarray:
        """The audience features' weights summed, for every catalogue row (or `rows`)."""
        audience = self._audience_features(plan, rows)
        part = np.zeros(len(self.base[0]) if rows is None else len(rows), np.float32)
        for spec in self.pair_specs:
            if spec["name"] in audience:
                part += self._weights(spec, audience[spec["name"]])
        return part

    def top(self, rows: np.ndarray, brand: pd.DataFrame, k: int,
            offset: np.ndarray | None = None, plan: list | None = None) -> np.ndarray:
        """The `k` of catalogue `rows` with the largest surrogate logit (+ `offset`, one per
        row, if given), without weighing the audience of most rows.

        The score is a code part (influencer side, niche and country: three gathers) plus an
        audience part, which is at most `audience_max`. The audience of the SEED x k rows
        best by code part is weighed first: the k-th best of their scores, tau, is a lower
        bound of the k-th best score overall, so only rows whose code part + audience_max
        reaches tau can be among the k; only those are weighed. The same k rows as `scores`
        gives (up to ties), typically weighing a fifth of the catalogue. `plan`: the brand's
        `target_plan`, if the caller keeps it."""
        if len(rows) <= k:
            return rows
        code = self._code_part(brand)[rows]
        bound = code + self.audience_max if offset is None else code + self.audience_max + offset
        plan = self.target_plan(brand) if plan is None else plan  # kept by the caller

        def exact(at: np.ndarray) -> np.ndarray:
            s = code[at] + self._audience_part(plan, rows[at])
            return s if offset is None else s + offset[at]

        seed = np.argpartition(-bound, min(SEED * k, len(rows)) - 1)[:SEED * k]
        tau = -np.partition(-exact(seed), k - 1)[k - 1]  # the k-th best score of the seed
        cand = np.flatnonzero(bound >= tau)
        s = exact(cand)
        return rows[cand[np.argpartition(-s, k - 1)[:k]]]

    def scores(self, rows: np.ndarray, brand: pd.DataFrame) -> np.ndarray:
        """Surrogate logit (up to a per-brief constant) of catalogue `rows` for `brand`.

        Computed for the whole catalogue, then taken at `rows`: the filters keep most of it.
        """
        return (self._code_part(brand) + self._audience_part(self.target_plan(brand)))[rows]
