"""The scorers the model must beat, each `score(train_df, test_df) -> np.ndarray` (higher = better).

Column names are parameters (with defaults) so they can be matched to the feature columns.
A missing value in a scoring column counts as the training median: unknown = average.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from recommender.errors import UserError

logger = logging.getLogger(__name__)

Scorer = Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]
MISSING_CATEGORY = "__missing__"
# Baselines whose scores are probabilities (calibration metrics make sense for them).
PROBABILISTIC = frozenset({"logistic_regression"})


def _require(df: pd.DataFrame, columns: Sequence[str], which: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise UserError(f"baseline: the {which} frame lacks column(s) {missing}")


def _numeric(df: pd.DataFrame, column: str) -> np.ndarray:
    try:
        return df[column].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise UserError(f"baseline: column {column!r} must be numeric") from exc


def _filled(train_df: pd.DataFrame, test_df: pd.DataFrame, column: str) -> np.ndarray:
    """Test values of `column`, missing ones replaced by the training median (0 if none)."""
    _require(train_df, [column], "training")
    _require(test_df, [column], "test")
    train = _numeric(train_df, column)
    median = float(np.nanmedian(train)) if np.isfinite(train).any() else 0.0
    values = _numeric(test_df, column)
    return np.where(np.isfinite(values), values, median)


def random_score(train_df: pd.DataFrame, test_df: pd.DataFrame, *, seed: int = 0) -> np.ndarray:
    """Uniform random scores from a seeded generator: the floor any scorer must clear."""
    return np.random.default_rng(seed).random(len(test_df))


def column_score(train_df: pd.DataFrame, test_df: pd.DataFrame, *, column: str) -> np.ndarray:
    """Rank by one numeric column, largest first."""
    return _filled(train_df, test_df, column)


def follower_count_score(
    train_df: pd.DataFrame, test_df: pd.DataFrame, *, column: str = "followers_as_of"
) -> np.ndarray:
    """Rank by follower count: bigger first."""
    return column_score(train_df, test_df, column=column)


def engagement_rate_score(
    train_df: pd.DataFrame, test_df: pd.DataFrame, *, column: str = "er_mean_90d"
) -> np.ndarray:
    """Rank by engagement rate: higher first."""
    return column_score(train_df, test_df, column=column)


def heuristic_score(
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    *,
    niche_column: str = "niche",
    category_column: str = "category",
    audience_column: str | None = "audience_match_mean",
    engagement_column: str | None = "er_mean_90d",
) -> np.ndarray:
    """Hand-weighted score as marketing tools compute it: niche match (influencer niche ==
    brand category) + audience match + engagement rate, each z-scored with training mean
    and standard deviation, summed with equal weights. A None column is left out; a missing
    value or a constant component contributes 0."""
    _require(train_df, [niche_column, category_column], "training")
    _require(test_df, [niche_column, category_column], "test")

    def niche_match(df: pd.DataFrame) -> np.ndarray:
        niche = df[niche_column].astype("string").str.lower()
        category = df[category_column].astype("string").str.lower()
        return (niche == category).fillna(False).to_numpy(dtype=np.float64)

    components = [(niche_match(train_df), niche_match(test_df))]
    for column in (audience_column, engagement_column):
        if column is not None:
            _require(train_df, [column], "training")
            components.append((_numeric(train_df, column), _filled(train_df, test_df, column)))
    total = np.zeros(len(test_df))
    for train, test in components:
        known = train[np.isfinite(train)]
        if known.size and known.std() > 0:
            total += np.nan_to_num((test - known.mean()) / known.std())
    return total


def _lr_frame(df: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    out = {c: _numeric(df, c) for c in numeric}
    for c in categorical:
        out[c] = df[c].astype("string").fillna(MISSING_CATEGORY).astype(object).to_numpy()
    return pd.DataFrame(out, index=df.index)


def logistic_regression_score(
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    *,
    features: Sequence[str],
    categorical: Sequence[str] = (),
    label: str = "converted",
) -> np.ndarray:
    """Probability from a logistic regression on the same features: median imputation with
    missing indicators and standardisation for numbers, one-hot for categoricals (unseen
    categories ignored), LogisticRegression(max_iter=1000)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in features if c not in set(categorical)]
    categorical = [c for c in features if c in set(categorical)]
    _require(train_df, [*features, label], "training")
    _require(test_df, features, "test")
    y = train_df[label].to_numpy(dtype=np.float64)
    if len(np.unique(y)) < 2:
        raise UserError(f"baseline: column {label!r} of the training frame holds one class")
    numbers = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    )
    pipeline = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        ("numbers", numbers, numeric),
                        ("categories", OneHotEncoder(handle_unknown="ignore"), categorical),
                    ]
                ),
            ),
            ("model", LogisticRegression(max_iter=1000)),
        ]
    )
    pipeline.fit(_lr_frame(train_df, numeric, categorical), y)
    return pipeline.predict_proba(_lr_frame(test_df, numeric, categorical))[:, 1]


def default_baselines(
    feature_columns: Sequence[str],
    categorical_features: Sequence[str] = (),
    *,
    followers_column: str = "followers_as_of",
    engagement_column: str = "er_mean_90d",
    audience_column: str | None = "audience_match_mean",
    niche_column: str = "niche",
    category_column: str = "category",
    label: str = "converted",
    seed: int = 0,
) -> dict[str, Scorer]:
    """Every baseline, keyed by name, as `score(train_df, test_df)` callables. A baseline
    whose column is not among `feature_columns` is left out (logged), never guessed."""
    available = set(feature_columns)
    audience = audience_column if audience_column in available else None
    if audience_column is not None and audience is None:
        logger.warning("heuristic baseline: no column %r; scored without it", audience_column)
    candidates: dict[str, tuple[list[str], Scorer]] = {
        "random": ([], functools.partial(random_score, seed=seed)),
        "followers": (
            [followers_column], functools.partial(follower_count_score, column=followers_column)
        ),
        "engagement_rate": (
            [engagement_column],
            functools.partial(engagement_rate_score, column=engagement_column),
        ),
        "heuristic": (
            [niche_column, category_column, engagement_column],
            functools.partial(
                heuristic_score, niche_column=niche_column, category_column=category_column,
                audience_column=audience, engagement_column=engagement_column,
            ),
        ),
        "logistic_regression": (
            [],
            functools.partial(
                logistic_regression_score, features=list(feature_columns),
                categorical=list(categorical_features), label=label,
            ),
        ),
    }
    out = {}
    for name, (needs, scorer) in candidates.items():
        absent = [c for c in needs if c not in available]
        if absent:
            logger.warning("baseline %s left out: no feature column(s) %s", name, absent)
            continue
        out[name] = scorer
    return out
