"""Point-in-time features of (brand, influencer, as_of) pairs, from data strictly before as_of."""

from recommender.features.assemble import (
    BRAND_FEATURES,
    CATEGORICAL_FEATURES,
    FEATURE_COLUMNS,
    INFLUENCER_FEATURES,
    KEYS,
    MONOTONE_INCREASING,
    PAIR_FEATURES,
    PairContext,
    brand_profiles,
    build_features,
    influencer_features,
    inline_brand_profile,
    pair_context,
    pair_features,
)
from recommender.features.training import LABEL, build_training_set

__all__ = [
    "BRAND_FEATURES", "CATEGORICAL_FEATURES", "FEATURE_COLUMNS", "INFLUENCER_FEATURES", "KEYS",
    "LABEL", "MONOTONE_INCREASING", "PAIR_FEATURES", "PairContext", "brand_profiles",
    "build_features", "build_training_set", "export_features", "influencer_features",
    "inline_brand_profile", "pair_context", "pair_features",
]


def export_features(*args, **kwargs) -> int:
    """See recommender.features.export.export_features (imported lazily: it reads files)."""
    from recommender.features.export import export_features as _export

    return _export(*args, **kwargs)
