"""Evaluation metrics: one function per metric, each `metric(y_true, y_score, **kw) -> float`.

Conventions shared by every function here:
- `y_true` holds 0/1 labels (ranking metrics also accept non-negative graded relevance,
  e.g. conversion counts); `y_score` the scores, higher = better; NaN scores are an error.
- A metric that is undefined on the data (AUC with one class, ranking with no positive)
  returns NaN rather than raising, so that a report can still be written.
- Grouped ranking metrics (`ndcg_at_k`, `precision_at_k`, `recall_at_k`) are computed per
  group (a brand: its labelled test rows) and averaged with equal weight per group. Groups
  without any positive label are SKIPPED: no ranking of theirs can be good or bad. So are
  groups of k rows or fewer (by default): every scorer puts all their rows in its top k, so
  recall@k is 1 and precision@k the same for any ranking there. If no group is left the
  result is NaN. `ranked_groups` counts the groups a metric averages over.
- precision@k is the standard hits / k (a group of fewer than k rows cannot reach 1).
- Ties in `y_score` are resolved by expectation over random tie-breaking, so a constant
  scorer gets the score of a random ranking, never one that depends on row order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

ArrayLike = np.ndarray | pd.Series | list


def _arrays(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(y_score, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(
            f"y_true and y_score must be 1-D of equal length, got {y.shape} and {s.shape}"
        )
    if np.isnan(s).any():
        raise ValueError(f"y_score holds {int(np.isnan(s).sum())} NaN value(s)")
    if np.isnan(y).any() or (y < 0).any():
        raise ValueError("y_true must hold non-negative labels without NaN")
    return y, s


def _single_class(y: np.ndarray) -> bool:
    binary = y > 0
    return bool(binary.all() or not binary.any())


def auc(y_true: ArrayLike, y_score: ArrayLike, **kw) -> float:
    """Area under the ROC curve; NaN if only one class is present."""
    from sklearn.metrics import roc_auc_score

    y, s = _arrays(y_true, y_score)
    if _single_class(y):
        return float("nan")
    return float(roc_auc_score(y > 0, s))


def log_loss(y_true: ArrayLike, y_score: ArrayLike, **kw) -> float:
    """Mean negative log-likelihood of probabilities `y_score` (sklearn's log_loss)."""
    from sklearn.metrics import log_loss as sk_log_loss

    y, s = _arrays(y_true, y_score)
    return float(sk_log_loss(y > 0, np.clip(s, 0.0, 1.0), labels=[False, True]))


def brier(y_true: ArrayLike, y_score: ArrayLike, **kw) -> float:
    """Brier score: mean squared error of probabilities `y_score` against 0/1 labels."""
    from sklearn.metrics import brier_score_loss

    y, s = _arrays(y_true, y_score)
    return float(brier_score_loss(y > 0, np.clip(s, 0.0, 1.0), labels=[False, True]))


def calibration_table(y_true: ArrayLike, y_score: ArrayLike, n_bins: int = 10) -> pd.DataFrame:
    """Reliability table over `n_bins` EQUAL-WIDTH bins of [0, 1].

    Bin i holds scores in [i/n, (i+1)/n); the last bin also holds 1.0. Columns: bin, lower,
    upper, count, mean_score, positive_rate (NaN for an empty bin).
    """
    y, s = _arrays(y_true, y_score)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    idx = np.clip(np.floor(np.clip(s, 0.0, 1.0) * n_bins).astype(int), 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_score = np.bincount(idx, weights=s, minlength=n_bins) / count
        positive_rate = np.bincount(idx, weights=(y > 0).astype(float), minlength=n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return pd.DataFrame(
        {
            "bin": np.arange(n_bins),
            "lower": edges[:-1],
            "upper": edges[1:],
            "count": count,
            "mean_score": mean_score,
            "positive_rate": positive_rate,
        }
    )


def expected_calibration_error(
    y_true: ArrayLike, y_score: ArrayLike, n_bins: int = 10, **kw
) -> float:
    """ECE: sum over equal-width bins (default 10) of (bin share of rows) x |positive rate -
    mean score|; empty bins contribute nothing. 0 = perfectly calibrated."""
    table = calibration_table(y_true, y_score, n_bins)
    filled = table[table["count"] > 0]
    if filled.empty:
        return float("nan")
    weights = filled["count"] / filled["count"].sum()
    return float((weights * (filled["positive_rate"] - filled["mean_score"]).abs()).sum())


def _groups(groups: ArrayLike, n: int) -> Iterator[np.ndarray]:
    """Row indices of each group (missing group values form one group of their own)."""
    codes, _ = pd.factorize(pd.Series(np.asarray(groups, dtype=object)), use_na_sentinel=False)
    if len(codes) != n:
        raise ValueError(f"groups must have one value per row ({n}), got {len(codes)}")
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    yield from np.split(order, bounds)


def _expected_hits_at_k(y: np.ndarray, s: np.ndarray, k: int) -> float:
    """Expected relevance in the top k, ties at the cut-off broken uniformly at random."""
    if len(s) <= k:
        return float(y.sum())
    cut = np.sort(s)[::-1][k - 1]
    above, tied = s > cut, s == cut
    return float(y[above].sum() + (k - above.sum()) * y[tied].sum() / tied.sum())


def _ndcg_one(y: np.ndarray, s: np.ndarray, k: int) -> float:
    from sklearn.metrics import ndcg_score

    if len(y) == 1:
        return 1.0
    return float(ndcg_score(y[None, :], s[None, :], k=k))


def _ranked(y: np.ndarray, groups: ArrayLike, min_rows: int) -> Iterator[np.ndarray]:
    """Row indices of each group with a positive and at least `min_rows` rows."""
    return (i for i in _groups(groups, len(y)) if len(i) >= min_rows and y[i].sum() > 0)


def _grouped_mean(
    y_true: ArrayLike,
    y_score: ArrayLike,
    groups: ArrayLike,
    per_group: Callable[[np.ndarray, np.ndarray], float],
    min_rows: int,
) -> float:
    y, s = _arrays(y_true, y_score)
    values = [per_group(y[i], s[i]) for i in _ranked(y, groups, min_rows)]
    return float(np.mean(values)) if values else float("nan")


def _check_k(k: int, min_rows: int | None) -> int:
    """The smallest group a ranking metric at k averages over (default k + 1)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if min_rows is not None and min_rows < 1:
        raise ValueError(f"min_rows must be >= 1, got {min_rows}")
    return k + 1 if min_rows is None else min_rows


def ranked_groups(y_true: ArrayLike, *, groups: ArrayLike, k: int = 10,
                  min_rows: int | None = None) -> int:
    """How many groups the ranking metrics at k average over (a positive, > k rows)."""
    y = np.asarray(y_true, dtype=float)
    return sum(1 for _ in _ranked(y, groups, _check_k(k, min_rows)))


def ndcg_at_k(y_true: ArrayLike, y_score: ArrayLike, *, groups: ArrayLike, k: int = 10,
              min_rows: int | None = None) -> float:
    """Mean over groups (with a positive, at least `min_rows` rows, default k + 1) of NDCG@k,
    graded relevance allowed (sklearn's ndcg_score, which averages over tied scores); a
    one-row group with a positive scores 1."""
    rows = _check_k(k, min_rows)
    return _grouped_mean(y_true, y_score, groups, lambda y, s: _ndcg_one(y, s, k), rows)


def precision_at_k(
    y_true: ArrayLike, y_score: ArrayLike, *, groups: ArrayLike, k: int = 10,
    min_rows: int | None = None,
) -> float:
    """Mean over groups (with a positive, at least `min_rows` rows, default k + 1) of
    (positives in top k) / k."""
    rows = _check_k(k, min_rows)
    return _grouped_mean(
        y_true, y_score, groups, lambda y, s: _expected_hits_at_k(y > 0, s, k) / k, rows)


def recall_at_k(y_true: ArrayLike, y_score: ArrayLike, *, groups: ArrayLike, k: int = 10,
                min_rows: int | None = None) -> float:
    """Mean over groups (with a positive, at least `min_rows` rows, default k + 1) of
    (positives in top k) / (positives in group)."""
    rows = _check_k(k, min_rows)
    return _grouped_mean(
        y_true, y_score, groups,
        lambda y, s: _expected_hits_at_k(y > 0, s, k) / (y > 0).sum(), rows,
    )


def regret_at_k(p_true: ArrayLike, y_score: ArrayLike, *, groups: ArrayLike, k: int = 10
                ) -> float:
    """Whole-catalogue regret where the true probabilities are known (a generated world):
    mean over groups of (mean p_true of the best k) - (expected mean p_true of the k the
    scores put first, ties at random). 0 = the best possible shortlist; in units of
    conversion probability per booking. Groups of k rows or fewer are skipped (no choice)."""
    rows = _check_k(k, None)
    p, s = _arrays(p_true, y_score)
    values = [np.sort(p[i])[::-1][:k].mean() - _expected_hits_at_k(p[i], s[i], k) / k
              for i in _groups(groups, len(p)) if len(i) >= rows]
    return float(np.mean(values)) if values else float("nan")


def within_group_auc(y_true: ArrayLike, y_score: ArrayLike, *, groups: ArrayLike) -> float:
    """AUC within each group (e.g. niche: negatives only from the same niche), averaged with
    weights n_pos x n_neg (the number of pairs compared); groups with one class are skipped."""
    y, s = _arrays(y_true, y_score)
    total, weight = 0.0, 0.0
    for i in _groups(groups, len(y)):
        if _single_class(y[i]):
            continue
        pairs = float((y[i] > 0).sum() * (y[i] <= 0).sum())
        total += pairs * auc(y[i], s[i])
        weight += pairs
    return total / weight if weight else float("nan")


def oracle_lift_share(auc_model: float, auc_oracle: float) -> float:
    """Share of the oracle's lift over chance that the model reaches:
    (auc_model - 0.5) / (auc_oracle - 0.5); NaN if the oracle is no better than chance."""
    if not np.isfinite(auc_oracle) or auc_oracle <= 0.5:
        return float("nan")
    return float((auc_model - 0.5) / (auc_oracle - 0.5))


def gains_curve(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative gains: (share of rows taken, best score first; share of positives captured),
    both starting at 0. Ties keep row order."""
    y, s = _arrays(y_true, y_score)
    order = np.argsort(-s, kind="stable")
    captured = np.concatenate([[0.0], np.cumsum(y[order] > 0)])
    taken = np.arange(len(y) + 1) / max(len(y), 1)
    positives = captured[-1]
    return taken, (captured / positives if positives else captured)


def evaluate(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    brand: ArrayLike,
    niche: ArrayLike | None = None,
    k: int = 10,
    probabilities: bool = True,
    n_bins: int = 10,
) -> dict[str, float]:
    """Every metric of one scorer on one window, keyed as logged (`auc`, `ndcg_at_10`, ...).

    `within_brand_auc` compares only rows of the same brand (what a brand's ranking needs);
    calibration metrics (log_loss, brier, ece) only if `probabilities`; `within_niche_auc`
    only if `niche` is given.
    """
    out = {
        "auc": auc(y_true, y_score),
        "within_brand_auc": within_group_auc(y_true, y_score, groups=brand),
        f"ndcg_at_{k}": ndcg_at_k(y_true, y_score, groups=brand, k=k),
        f"precision_at_{k}": precision_at_k(y_true, y_score, groups=brand, k=k),
        f"recall_at_{k}": recall_at_k(y_true, y_score, groups=brand, k=k),
    }
    if niche is not None:
        out["within_niche_auc"] = within_group_auc(y_true, y_score, groups=niche)
    if probabilities:
        out["log_loss"] = log_loss(y_true, y_score)
        out["brier"] = brier(y_true, y_score)
        out["ece"] = expected_calibration_error(y_true, y_score, n_bins=n_bins)
    return out
