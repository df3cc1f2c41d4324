"""The ranker's catalogue pre-encoded for requests: the model's feature matrix of every
influencer, built once at load, into which a brief's brand and pair columns are written with
numpy (the values `pair_features` gives, by the same feature functions, without a frame)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.features import BRAND_FEATURES, INFLUENCER_FEATURES, PairContext
from recommender.features.audience import (
    AUDIENCE_PREFIX,
    TARGET_PREFIX,
    audience_pair_arrays,
    share_columns,
)
from recommender.features.history import global_rate, pair_history_features
from recommender.features.timeline import to_ns
from recommender.first_stage import FirstStage
from recommender.model import ConversionModel

RECENCY_FEATURES = ("days_since_last_post", "days_since_last_collab")


@dataclass(frozen=True)
class BrandSide:
    """One brief's brand, ready to fill a matrix: encoded brand columns, targets, codes."""

    profile: pd.DataFrame  # the one-row profile (the first stage reads it)
    encoded: np.ndarray  # BRAND_FEATURES of the model, encoded, in `brand_columns` order
    targets: dict[str, np.ndarray]  # tgt:<dim>:<segment> -> one share
    collab_code: int  # the brand's row in the collaboration history, -1 if none
    category: str


class EncodedCatalogue:
    """Feature rows of one catalogue (the snapshot's influencer side) for one model."""

    def __init__(self, model: ConversionModel, side: pd.DataFrame, context: PairContext,
                 first_stage: FirstStage, as_of: pd.Timestamp) -> None:
        self.model, self.context, self.first_stage = model, context, first_stage
        features = model.features_
        self.position = {c: j for j, c in enumerate(features)}
        influencer = [c for c in features if c in INFLUENCER_FEATURES]
        self.brand_columns = [c for c in features if c in BRAND_FEATURES]
        self._brand_pos = [self.position[c] for c in self.brand_columns]
        self.matrix = np.full((len(side), len(features)), np.nan)  # brand, pair columns: NaN
        self.matrix[:, [self.position[c] for c in influencer]] = model.feature_matrix(
            side, influencer)
        self.n = len(side)
        self.audience = share_columns(side, AUDIENCE_PREFIX)
        self.average = context.audience_average.to_dict()
        self.collab_codes = context.collabs.influencer_index.get_indexer(side["influencer_id"])
        self.as_of_ns = to_ns([as_of])
        self.prior = global_rate(context.collabs, self.as_of_ns)
        self.text = {c: np.asarray(side[c].astype(object)) for c in ("influencer_id",
                                                                       "platform", "niche")}

    def brand(self, profile: pd.DataFrame) -> BrandSide:
        """The brand side of a one-row profile (known brand or described inline)."""
        b = profile.iloc[0]
        code = self.context.collabs.brand_index.get_indexer([b["brand_id"]])[0]
        return BrandSide(profile, self.model.feature_matrix(profile, self.brand_columns)[0],
                         share_columns(profile, TARGET_PREFIX), int(code), str(b["category"]))

    def rows(self, rows: np.ndarray, brand: BrandSide, gap_days: float = 0.0) -> np.ndarray:
        """The model's feature matrix of catalogue `rows` paired with `brand`, with the
        time-since features advanced by `gap_days` (as_of later than the snapshot's)."""
        M = self.matrix[rows]
        M[:, self._brand_pos] = brand.encoded
        for name, (values, codes) in self.first_stage.pair_tables(brand.profile).items():
            M[:, self.position[name]] = values[codes[rows]]
        n = len(rows)
        pair = audience_pair_arrays(self.audience, self.n, rows, brand.targets, 1,
                                    np.zeros(n, np.int64), self.average)
        inf_codes = (self.collab_codes[rows] if brand.collab_code >= 0
                     else np.full(n, -1, np.int64))
        pair.update(pair_history_features(self.context.collabs, inf_codes,
                                          np.full(n, brand.collab_code, np.int64),
                                          np.repeat(self.as_of_ns, n), np.repeat(self.prior, n)))
        for name, values in pair.items():
            M[:, self.position[name]] = values
        if gap_days:
            for name in RECENCY_FEATURES:
                if name in self.position:
                    M[:, self.position[name]] += gap_days
        return M

    def columns(self, M: np.ndarray, rows: np.ndarray, brand: BrandSide
                ) -> dict[str, np.ndarray]:
        """Feature values by name of the matrix rows `M` (catalogue `rows`): numbers as
        encoded (views of M), the categorical ones as their text (what reasons and the
        answer show)."""
        out = {c: M[:, j] for c, j in self.position.items()}
        out.update({"platform": self.text["platform"][rows], "niche": self.text["niche"][rows],
                    "category": np.full(len(rows), brand.category, dtype=object),
                    "influencer_id": self.text["influencer_id"][rows]})
        return out
