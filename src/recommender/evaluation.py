"""Scoring the test window: the model, the baselines, the oracle and the cold-start rows."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recommender import metrics
from recommender.baselines import PROBABILISTIC, default_baselines
from recommender.errors import UserError
from recommender.features import CATEGORICAL_FEATURES, FEATURE_COLUMNS, LABEL
from recommender.split import cold_start_mask

logger = logging.getLogger(__name__)

TRUTH_FILE = "truth.parquet"
# A champion must beat chance with this many standard errors of its AUC to spare: a model
# trained on shuffled labels has no signal and must never be promoted.
SIGNAL_Z = 2.0


@dataclass
class Evaluation:
    """Every metric of every scorer on one test window, and the scores behind them."""

    metrics: dict[str, float]
    table: pd.DataFrame  # one row per scorer, one column per metric
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    oracle: np.ndarray | None = None


def read_truth(data_dir: Path) -> pd.DataFrame | None:
    """The generator's oracle (collaboration_id, p_true), or None for real data."""
    path = Path(data_dir) / TRUTH_FILE
    if not path.is_file():
        return None
    truth = pd.read_parquet(path)
    missing = {"collaboration_id", "p_true"} - set(truth.columns)
    if missing:
        raise UserError(f"{path}: column(s) {sorted(missing)} missing; expected collaboration_id,"
                        " p_true")
    return truth.assign(collaboration_id=truth["collaboration_id"].astype(str))


def scorer_metrics(frame: pd.DataFrame, score: np.ndarray, probabilities: bool) -> dict:
    """The metric set of one scorer on the labelled rows of `frame`."""
    y, brand = frame[LABEL].to_numpy(), frame["brand_id"].to_numpy()
    out = metrics.evaluate(y, score, brand=brand, niche=frame["niche"].astype(str).to_numpy(),
                           probabilities=probabilities)
    out["precision_at_5"] = metrics.precision_at_k(y, score, groups=brand, k=5)
    return out


def has_signal(auc: float, y: np.ndarray) -> tuple[bool, str]:
    """Whether the test AUC beats chance by SIGNAL_Z standard errors (Hanley and McNeil)."""
    n_pos = int(np.sum(y))
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0 or not math.isfinite(auc):
        return False, "the test window has a single class: AUC is undefined"
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
        n_pos * n_neg)
    lower = auc - SIGNAL_Z * math.sqrt(max(var, 0.0))
    text = f"test AUC {auc:.4f}, lower bound {lower:.4f} ({SIGNAL_Z:g} standard errors)"
    return lower > 0.5, text


def cold_start_metrics(cold: pd.DataFrame, score: np.ndarray) -> dict[str, float]:
    """The model's metrics on the cold-start rows, only those that could fail there: none
    without both classes, no ranking metric without a brand of more than k cold rows
    (every scorer would rank all of them into its top k)."""
    if len(cold) == 0 or cold[LABEL].nunique() < 2:
        return {}
    values = metrics.evaluate(cold[LABEL].to_numpy(), score,
                              brand=cold["brand_id"].to_numpy())
    return {k: v for k, v in values.items() if math.isfinite(v)}


def evaluate_window(
    model, train: pd.DataFrame, test: pd.DataFrame, truth: pd.DataFrame | None = None,
    seed: int = 0,
) -> Evaluation:
    """Model, baselines (fitted on `train` only) and oracle on `test`, plus cold start."""
    if test[LABEL].nunique() < 2:
        raise UserError("the test window holds a single class: more collaborations are needed "
                        "to evaluate (at least one converted and one not)")
    model_score = model.predict_proba(test[FEATURE_COLUMNS])
    scores = {"model": model_score}
    for name, scorer in default_baselines(FEATURE_COLUMNS, CATEGORICAL_FEATURES,
                                          seed=seed).items():
        scores[name] = np.asarray(scorer(train, test), dtype=float)
    rows = {}
    for name, score in scores.items():
        rows[name] = scorer_metrics(test, score,
                                    probabilities=name == "model" or name in PROBABILISTIC)
    out = dict(rows["model"])
    for name, values in rows.items():
        if name != "model":
            out.update({f"baseline_{name}_{k}": v for k, v in values.items()})

    oracle = None
    if truth is not None:
        p = test[["collaboration_id"]].merge(truth, on="collaboration_id", how="left")["p_true"]
        if p.notna().all():
            oracle = p.to_numpy(dtype=float)
            rows["oracle"] = scorer_metrics(test, oracle, probabilities=True)
            out.update({f"oracle_{k}": v for k, v in rows["oracle"].items()})
            out["oracle_lift_share"] = metrics.oracle_lift_share(out["auc"], out["oracle_auc"])
        else:
            logger.warning("%s does not cover every test collaboration: no oracle metrics",
                           TRUTH_FILE)

    out["test_rows"] = float(len(test))
    out["ranked_brands_at_10"] = float(metrics.ranked_groups(
        test[LABEL].to_numpy(), groups=test["brand_id"].to_numpy(), k=10))
    cold = cold_start_mask(train, test)
    out["cold_start_rows"] = float(cold.sum())
    cold_metrics = cold_start_metrics(test.loc[cold], model_score[cold])
    if cold_metrics:
        out.update({f"cold_start_{k}": v for k, v in cold_metrics.items()})
        rows["model (cold start)"] = cold_metrics
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scorer"
    return Evaluation(metrics=out, table=table, scores=scores, oracle=oracle)
