"""Planners' preference, the second label: a model of accept/reject feedback with the
position bias handled, its time-split evaluation, and its blend with the conversion model.

Features (PREF_FEATURES) are the pair's point-in-time features at the event's instant (the
one feature path, `build_features`), logs taken of the size and price ones, missing values
set to the training median, standardised. The model is a logistic regression (scikit-learn).

Position bias: the rank a row was shown at changes how often it is accepted whatever the
planner thinks of it. The corrected model has one indicator per shown rank (1..MAX_RANK,
the last one also for lower rows; one more for events with no rank) beside the features, so
the rank's effect is not credited to features that go with it. At serving time the position
is set to one constant (rank 1) for every row, which shifts every score alike: the ranking
reads the features' part only. The uncorrected model (for comparison) leaves the rank out.

Evaluation and the blend: events are split by time (the first 60% train, the next 20%
choose the blend weight, the last 20% test). The blended order is by
logit(conversion p) + weight x preference logit; a weight in BLEND_WEIGHTS is chosen on the
middle window by the position-stratified AUC (the AUC of accept vs reject among events
shown at the same rank, averaged with the events' counts as weights: a comparison the
position cannot bias). The blend is used only if the chosen weight is > 0 and beats the
conversion probability alone on the test window.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from recommender.errors import UserError

logger = logging.getLogger(__name__)

PREF_FEATURES = ["real_follower_share", "price_per_follower", "er_mean_90d", "followers_as_of",
                 "posts_per_week_90d", "niche_match", "audience_match_mean",
                 "inf_conversion_rate"]
LOGGED = ("price_per_follower", "followers_as_of")
MAX_RANK = 10
BLEND_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
SHARES = (0.6, 0.2)  # train, blend choice; the rest is the test window
MIN_EVENTS = 50
FILE_NAME = "preference.json"


def _design(X: pd.DataFrame) -> np.ndarray:
    cols = []
    for name in PREF_FEATURES:
        v = X[name].to_numpy(np.float64) if name in X else np.full(len(X), np.nan)
        cols.append(np.log(np.maximum(v, 1e-9)) if name in LOGGED else v)
    return np.column_stack(cols)


def position_columns(rank: pd.Series | np.ndarray) -> np.ndarray:
    """Indicators of the shown rank: 1..MAX_RANK (MAX_RANK also for lower), and no rank."""
    r = pd.to_numeric(pd.Series(rank), errors="coerce").to_numpy(np.float64)
    out = np.zeros((len(r), MAX_RANK + 1))
    known = ~np.isnan(r)
    out[np.flatnonzero(known), np.minimum(r[known], MAX_RANK).astype(int) - 1] = 1.0
    out[~known, MAX_RANK] = 1.0
    return out


@dataclass
class PreferenceModel:
    """Plain numbers (JSON): medians, means, scales, coefficients; blend weight."""

    medians: list[float]
    means: list[float]
    scales: list[float]
    coef: list[float]  # PREF_FEATURES only: the position terms are constant at serving
    position_coef: list[float]
    corrected: bool
    blend_weight: float = 0.0

    @classmethod
    def fit(cls, X: pd.DataFrame, accepted: np.ndarray, rank, corrected: bool = True,
            C: float = 1.0) -> PreferenceModel:
        """Fit on feature rows `X`, labels `accepted` and the ranks they were shown at."""
        D = _design(X)
        med = np.nanmedian(D, axis=0)
        med = np.where(np.isnan(med), 0.0, med)
        D = np.where(np.isnan(D), med, D)
        mu, sd = D.mean(axis=0), D.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        Z = (D - mu) / sd
        if corrected:
            Z = np.hstack([Z, position_columns(rank)])
        lr = LogisticRegression(C=C, max_iter=1000).fit(Z, accepted.astype(int))
        k = len(PREF_FEATURES)
        return cls(med.tolist(), mu.tolist(), sd.tolist(), lr.coef_[0, :k].tolist(),
                   lr.coef_[0, k:].tolist(), corrected)

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """The preference logit of feature rows, at a constant position (rank 1)."""
        D = _design(X)
        D = np.where(np.isnan(D), np.asarray(self.medians), D)
        return ((D - np.asarray(self.means)) / np.asarray(self.scales)) @ np.asarray(self.coef)

    def blend(self, p: np.ndarray, X: pd.DataFrame) -> np.ndarray:
        """The blended ranking key: logit(p) + blend_weight x preference logit."""
        return blended(p, self.score(X), self.blend_weight)

    def to_dict(self) -> dict[str, Any]:
        return {"features": PREF_FEATURES, "logged": list(LOGGED), **self.__dict__}

    def save(self, folder: Path | str) -> Path:
        """Write FILE_NAME into `folder`."""
        from recommender.io import atomic_path

        path = Path(folder) / FILE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: Path | str) -> PreferenceModel:
        d = json.loads((Path(folder) / FILE_NAME).read_text(encoding="utf-8"))
        if d.pop("features") != PREF_FEATURES or d.pop("logged") != list(LOGGED):
            raise UserError(f"{folder}: preference model of other features than this code's")
        return cls(**d)


def blended(p: np.ndarray, pref: np.ndarray, weight: float) -> np.ndarray:
    """logit(p) + weight x pref."""
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9)
    return np.log(q / (1 - q)) + weight * pref


def stratified_auc(score: np.ndarray, accepted: np.ndarray, rank) -> float:
    """AUC of `score` for accept vs reject within each shown rank, averaged (by count) over
    the ranks that have both; NaN if none has."""
    r = pd.to_numeric(pd.Series(rank), errors="coerce").fillna(0).to_numpy()
    total, weight = 0.0, 0
    for value in np.unique(r):
        m = r == value
        if 0 < accepted[m].sum() < m.sum():
            total += roc_auc_score(accepted[m], score[m]) * m.sum()
            weight += int(m.sum())
    return float(total / weight) if weight else float("nan")


# ----------------------------------------------------------------------------- events
EVENT_COLUMNS = ("at", "brand_id", "influencer_id", "decision", "rank")


def load_events(source: str | Path) -> pd.DataFrame:
    """Feedback events from a Parquet/CSV file (the store's columns) or a store URL."""
    text = str(source)
    if text.endswith((".parquet", ".csv")):
        path = Path(text)
        if not path.is_file():
            raise UserError(f"--feedback {text}: no such file")
        events = pd.read_parquet(path) if text.endswith(".parquet") else pd.read_csv(path)
    else:
        from recommender.feedback import FeedbackStore

        events = FeedbackStore(text).events()
    missing = [c for c in EVENT_COLUMNS if c not in events]
    if missing:
        raise UserError(f"--feedback {text}: column(s) {', '.join(missing)} missing; "
                        f"needed: {', '.join(EVENT_COLUMNS)}")
    bad = events[~events["decision"].isin(("accept", "reject"))]
    if len(bad):
        raise UserError(f"--feedback {text}: column 'decision': {len(bad)} rows neither "
                        f"accept nor reject, e.g. {bad['decision'].iloc[0]!r}")
    at = pd.to_datetime(events["at"], utc=True, errors="coerce")
    if at.isna().any():
        raise UserError(f"--feedback {text}: column 'at': {int(at.isna().sum())} rows without "
                        "a readable time")
    return events.assign(at=at).sort_values("at", kind="stable").reset_index(drop=True)


def event_features(ds, events: pd.DataFrame) -> pd.DataFrame:
    """Point-in-time features of each event's pair at its instant (UserError for ids the
    data does not hold, naming the column and the first value)."""
    from recommender.features import build_features

    for column, known in (("brand_id", ds.brands["brand_id"]),
                          ("influencer_id", ds.influencers["influencer_id"])):
        unknown = events.loc[~events[column].isin(known), column]
        if len(unknown):
            raise UserError(f"feedback: column '{column}': {len(unknown)} events name ids "
                            f"not in the data, e.g. {unknown.iloc[0]!r}")
    pairs = events[["brand_id", "influencer_id"]].assign(as_of=events["at"])
    return build_features(ds, pairs)


@dataclass
class FeedbackResult:
    """The corrected model (blend weight set), the uncorrected one, and the metrics."""

    model: PreferenceModel
    naive: PreferenceModel
    metrics: dict[str, float]
    blended: bool


def fit_feedback(ds, events: pd.DataFrame, conversion) -> FeedbackResult:
    """Train the preference models on the time split of `events`, choose the blend weight,
    decide whether to blend (see the module docstring). `conversion`: a ConversionModel."""
    if len(events) < MIN_EVENTS:
        raise UserError(f"feedback: {len(events)} events; at least {MIN_EVENTS} are needed")
    X = event_features(ds, events)
    y = (events["decision"] == "accept").to_numpy()
    rank = events["rank"]
    n = len(events)
    cut = [int(n * SHARES[0]), int(n * (SHARES[0] + SHARES[1]))]
    parts = [np.arange(0, cut[0]), np.arange(cut[0], cut[1]), np.arange(cut[1], n)]
    tr, va, te = parts
    if len(set(y[tr])) < 2:
        raise UserError("feedback: the training window holds only one kind of decision")
    model = PreferenceModel.fit(X.iloc[tr], y[tr], rank.iloc[tr], corrected=True)
    naive = PreferenceModel.fit(X.iloc[tr], y[tr], rank.iloc[tr], corrected=False)
    p = conversion.predict_proba(X)
    pref = model.score(X)
    valid_auc = {w: stratified_auc(blended(p[va], pref[va], w), y[va], rank.iloc[va])
                 for w in BLEND_WEIGHTS}
    best = max(BLEND_WEIGHTS, key=lambda w: (np.nan_to_num(valid_auc[w], nan=-1.0), -w))
    test = {w: stratified_auc(blended(p[te], pref[te], w), y[te], rank.iloc[te])
            for w in {0.0, best}}
    use = best > 0 and test[best] > test[0.0]
    model.blend_weight = best if use else 0.0
    metrics = {
        "feedback_events": float(n), "feedback_accept_rate": float(y.mean()),
        "feedback_auc_conversion_test": test[0.0],
        "feedback_auc_blend_test": test[best], "feedback_blend_weight": model.blend_weight,
        "feedback_blend_weight_chosen": float(best),
        "feedback_auc_pref_corrected_test": stratified_auc(pref[te], y[te], rank.iloc[te]),
        "feedback_auc_pref_naive_test": stratified_auc(naive.score(X.iloc[te]), y[te],
                                                       rank.iloc[te]),
        "feedback_blended": float(use),
    }
    logger.info("feedback: %d events, blend weight %s (%s)", n, model.blend_weight,
                "used" if use else "not used")
    return FeedbackResult(model, naive, metrics, use)
