"""Scoring the whole catalogue against a generated world's catalogue truth.

A generated world holds truth_catalogue.parquet (`recommender.world.catalogue`): for sample
brands, every micro-influencer with its true conversion probability at one instant after the
last collaboration. The collaborations' test window only scores pairs brands chose; this
scores what the product ranks: the top of the catalogue, gains = true probability
(NDCG@k, mean over the sample brands). Real data has no such file: then nothing is scored.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from recommender import metrics
from recommender.baselines import heuristic_score, random_score
from recommender.errors import UserError
from recommender.features import FEATURE_COLUMNS, build_features

logger = logging.getLogger(__name__)

CATALOGUE_TRUTH_FILE = "truth_catalogue.parquet"
CATALOGUE_KS = (10, 50)
REQUIRED = ("brand_id", "influencer_id", "as_of", "p_true")


def read_catalogue_truth(data_dir: Path) -> pd.DataFrame | None:
    """The catalogue truth of a generated world, or None where the folder has none."""
    path = Path(data_dir) / CATALOGUE_TRUTH_FILE
    if not path.is_file():
        return None
    truth = pd.read_parquet(path)
    missing = [c for c in REQUIRED if c not in truth.columns]
    if missing:
        raise UserError(f"{path}: column(s) {missing} missing; expected {', '.join(REQUIRED)}")
    bad = ~truth["p_true"].between(0.0, 1.0)
    if bad.any():
        raise UserError(f"{path}: column 'p_true' must lie in [0, 1], e.g. "
                        f"{truth.loc[bad, 'p_true'].iloc[0]!r}")
    return truth.astype({"brand_id": str, "influencer_id": str})


def catalogue_features(ds, truth: pd.DataFrame) -> pd.DataFrame:
    """The pair features of every catalogue pair, as of its as_of (the data strictly before),
    in the catalogue's row order."""
    return build_features(ds, truth[["brand_id", "influencer_id", "as_of"]])


def catalogue_ndcg(truth: pd.DataFrame, score: np.ndarray, k: int) -> float:
    """Mean over the catalogue's brands of NDCG@k of `score` (gains: p_true)."""
    return metrics.ndcg_at_k(truth["p_true"].to_numpy(), np.asarray(score, dtype=float),
                             groups=truth["brand_id"].to_numpy(), k=k)


def catalogue_metrics(model, train: pd.DataFrame, features: pd.DataFrame,
                      truth: pd.DataFrame, seed: int = 0) -> dict[str, float]:
    """catalogue_ndcg_at_<k> of the model scoring every catalogue pair (brute force, by its
    raw margin, the order of its calibrated score), and of the heuristic and random
    baselines (fitted on `train`) as catalogue_baseline_<name>_ndcg_at_<k>; likewise
    catalogue_<name>regret_at_<k>: the true conversion probability per booking lost against
    each brand's best k (`metrics.regret_at_k`)."""
    scores = {
        "": model.predict_raw(features[FEATURE_COLUMNS]),
        "baseline_heuristic_": heuristic_score(train, features),
        "baseline_random_": random_score(train, features, seed=seed),
    }
    p, brand = truth["p_true"].to_numpy(), truth["brand_id"].to_numpy()
    out = {f"catalogue_{name}ndcg_at_{k}": catalogue_ndcg(truth, s, k)
           for name, s in scores.items() for k in CATALOGUE_KS}
    out.update({f"catalogue_{name}regret_at_{k}": metrics.regret_at_k(p, s, groups=brand, k=k)
                for name, s in scores.items() for k in CATALOGUE_KS})
    return out
