"""Price features: what one sponsored post costs per follower and per expected engagement."""

from __future__ import annotations

import numpy as np

from recommender.features.timeline import safe_div

PRICE_FEATURES = ["price_per_follower", "cost_per_engagement"]


def price_features(
    price_per_post: np.ndarray, followers_as_of: np.ndarray, mean_interactions_365d: np.ndarray
) -> dict[str, np.ndarray]:
    """Price per follower, and price per expected engagement (mean likes + comments per post
    over the last 365 days). NaN without a price, followers or recent posts."""
    price = np.asarray(price_per_post, dtype=np.float64)
    return {
        "price_per_follower": safe_div(price, followers_as_of),
        "cost_per_engagement": safe_div(price, mean_interactions_365d),
    }
