"""The champion gate's statistics: paired non-inferiority over brands, and the baseline floor.

A new model and the current champion are scored on the SAME (the new) test window. Brands
are resampled with replacement (the rows of a brand move together: a brand's rows share its
pull and its planners), each metric is recomputed for both scorers on every resample, and
the one-sided lower bound of (new - champion), in the better direction, must stay above
minus the metric's non-inferiority margin. A point estimate within a tolerance would let
noise decide (NDCG@10's brand-bootstrap standard error is about 0.015 on the demo world);
margins against the champion alone would let small losses compound, so the new model must
also beat the heuristic baseline outright (a fixed floor that does not move with the champion).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender import metrics

logger = logging.getLogger(__name__)

# Largest loss against the champion the gate accepts, per metric (absolute units). About one
# brand-bootstrap standard error of each on the demo world's test window (docs/model.md).
MARGINS: dict[str, float] = {"auc": 0.01, "ndcg_at_10": 0.02, "log_loss": 0.005, "ece": 0.01}
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece"})
# Metrics the new model must beat the heuristic baseline on (point estimates, no margin).
FLOOR_METRICS = ("auc", "ndcg_at_10")
BOOTSTRAP_ROUNDS = 200
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Comparison:
    """One metric of the new model against the champion on the same window."""

    metric: str
    new: float
    old: float
    lower: float  # one-sided lower bound of the gain (new - old, sign-adjusted)
    margin: float

    @property
    def ok(self) -> bool:
        """Non-inferior: the gain's lower bound is above minus the margin (NaN fails)."""
        return math.isfinite(self.lower) and self.lower > -self.margin

    def text(self) -> str:
        return (f"{self.metric} {self.new:.4f} vs champion {self.old:.4f} (gain lower bound "
                f"{self.lower:+.4f}, margin {self.margin})")


def _row_metric(name: str, y: np.ndarray, s: np.ndarray, n_bins: int = 10) -> float:
    """AUC (Mann-Whitney on average ranks) or ECE (equal-width bins), as in `metrics` but
    without sklearn's per-call checks: the bootstrap calls these thousands of times."""
    if name == "auc":
        from scipy.stats import rankdata

        pos = y > 0
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        if not n_pos or not n_neg:
            return float("nan")
        return float((rankdata(s)[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    if name == "ece":
        idx = np.clip(np.floor(np.clip(s, 0.0, 1.0) * n_bins).astype(int), 0, n_bins - 1)
        count = np.bincount(idx, minlength=n_bins)
        gap = np.abs(np.bincount(idx, weights=y, minlength=n_bins)
                     - np.bincount(idx, weights=s, minlength=n_bins))
        return float(gap.sum() / count.sum()) if count.sum() else float("nan")
    raise ValueError(f"the gate cannot compare metric {name!r}")


class _PerBrand:
    """A metric that is a mean over brands (NDCG@k) or over rows (log loss, Brier), kept as
    per-brand numbers so that a resample of brands is a weighted sum, not a recomputation."""

    def __init__(self, name: str, y: np.ndarray, s: np.ndarray, rows: list[np.ndarray]):
        if name.startswith("ndcg_at_"):
            k = int(name.rsplit("_", 1)[1])
            self.value = np.array([metrics.ndcg_at_k(y[r], s[r], groups=np.zeros(len(r)), k=k)
                                   for r in rows])
            self.count = np.isfinite(self.value).astype(float)
            self.value = np.nan_to_num(self.value)
        elif name in ("log_loss", "brier"):
            p = np.clip(s, 1e-15, 1 - 1e-15)
            loss = (-(y * np.log(p) + (1 - y) * np.log1p(-p)) if name == "log_loss"
                    else (p - y) ** 2)
            self.value = np.array([loss[r].sum() for r in rows])
            self.count = np.array([float(len(r)) for r in rows])
        else:
            raise ValueError(f"the gate cannot compare metric {name!r}")

    def of(self, draw: np.ndarray) -> float:
        n = self.count[draw].sum()
        return float(self.value[draw].sum() / n) if n else float("nan")


def paired_comparison(
    y: np.ndarray, brand: np.ndarray, new: np.ndarray, old: np.ndarray,
    margins: Mapping[str, float] | None = None, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0,
) -> list[Comparison]:
    """Each metric of `margins` (default MARGINS) for scores `new` and `old` of the same rows,
    with the lower bound of the gain from a bootstrap over brands (`rounds` resamples)."""
    margins = MARGINS if margins is None else margins
    y = (np.asarray(y, dtype=float) > 0).astype(float)
    scores = (np.asarray(new, dtype=float), np.asarray(old, dtype=float))
    codes, _ = pd.factorize(pd.Series(np.asarray(brand, dtype=object)))
    order = np.argsort(codes, kind="stable")
    rows = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1) if len(codes) else []
    everyone = np.arange(len(rows))
    per_brand = {m: [_PerBrand(m, y, s, rows) for s in scores] for m in margins
                 if m not in ("auc", "ece")}

    def value(m: str, which: int, draw: np.ndarray, idx: np.ndarray) -> float:
        if m in per_brand:
            return per_brand[m][which].of(draw)
        return _row_metric(m, y[idx], scores[which][idx])

    rng = np.random.default_rng(seed)
    gains: dict[str, list[float]] = {m: [] for m in margins}
    for _ in range(rounds):
        draw = rng.integers(0, len(rows), len(rows))
        idx = np.concatenate([rows[d] for d in draw])
        for m in margins:
            sign = -1.0 if m in LOWER_IS_BETTER else 1.0
            gains[m].append(sign * (value(m, 0, draw, idx) - value(m, 1, draw, idx)))
    out = []
    all_rows = np.arange(len(y))
    for m, margin in margins.items():
        g = np.asarray(gains[m])
        g = g[np.isfinite(g)]
        lower = float(np.quantile(g, 1 - CONFIDENCE)) if len(g) else float("nan")
        out.append(Comparison(m, value(m, 0, everyone, all_rows),
                              value(m, 1, everyone, all_rows), lower, float(margin)))
    return out


def below_floor(new_metrics: Mapping[str, float], floor_name: str = "heuristic") -> list[str]:
    """The FLOOR_METRICS on which the new model does not beat baseline `floor_name` (both
    measured on the same window, in `new_metrics` as <metric> and baseline_<name>_<metric>)."""
    failed = []
    for m in FLOOR_METRICS:
        new, base = new_metrics.get(m, math.nan), new_metrics.get(f"baseline_{floor_name}_{m}",
                                                                   math.nan)
        if math.isfinite(base) and not (math.isfinite(new) and new > base):
            failed.append(f"{m} {new:.4f} does not beat the {floor_name} baseline's {base:.4f}")
    return failed


def schema_change(champion_features: list[str], new_features: list[str]) -> str | None:
    """A sentence naming how the feature lists differ, or None if they are the same."""
    if list(champion_features) == list(new_features):
        return None
    gone = [f for f in champion_features if f not in new_features]
    added = [f for f in new_features if f not in champion_features]
    parts = ([f"removed {gone[:3]}"] if gone else []) + ([f"added {added[:3]}"] if added else [])
    return "the feature schema changed (" + ("; ".join(parts) or "same features, new order") + ")"
