"""The training set: each collaboration as a row of features as of its start, with its label."""

from __future__ import annotations

import logging

import pandas as pd

from recommender.features.assemble import FEATURE_COLUMNS, PairContext, build_features

logger = logging.getLogger(__name__)

LABEL = "converted"


def build_training_set(ds, context: PairContext | None = None) -> pd.DataFrame:
    """collaboration_id, brand_id, influencer_id, as_of (= started_at), FEATURE_COLUMNS,
    converted (= conversions >= 1); sorted by as_of, then collaboration_id."""
    if not ds.has_table("collaborations"):
        raise ValueError("the data has no collaborations table: there are no labels to train on")
    collabs = ds.collaborations.sort_values(["started_at", "collaboration_id"], kind="stable")
    pairs = pd.DataFrame({
        "brand_id": collabs["brand_id"].to_numpy(),
        "influencer_id": collabs["influencer_id"].to_numpy(),
        "as_of": collabs["started_at"].to_numpy(),
    })
    feats = build_features(ds, pairs, context)
    feats.insert(0, "collaboration_id", collabs["collaboration_id"].to_numpy())
    feats[LABEL] = collabs["conversions"].to_numpy() >= 1
    logger.info("training set: %d collaborations, %.1f%% converted",
                len(feats), 100 * feats[LABEL].mean() if len(feats) else 0.0)
    return feats[["collaboration_id", "brand_id", "influencer_id", "as_of",
                  *FEATURE_COLUMNS, LABEL]]
