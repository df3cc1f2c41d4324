"""Evaluation figures (matplotlib, Agg canvas): reliability diagram, cumulative gains, importance.

Each function returns a Figure ready for `mlflow.log_figure(fig, "name.png")`; none touches
pyplot's global state, so nothing needs closing and no display is required.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recommender.metrics import (
    ArrayLike,
    calibration_table,
    expected_calibration_error,
    gains_curve,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(**kw) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kw)
    FigureCanvasAgg(fig)
    return fig


def calibration_figure(
    y_true: ArrayLike, y_score: ArrayLike, n_bins: int = 10, label: str = "model"
) -> Figure:
    """Reliability diagram over equal-width bins: positive rate against mean predicted
    probability (with the diagonal), and below it the number of rows in each bin."""
    table = calibration_table(y_true, y_score, n_bins)
    filled = table[table["count"] > 0]
    ece = expected_calibration_error(y_true, y_score, n_bins)
    fig = _figure(figsize=(6, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    top.plot(filled["mean_score"], filled["positive_rate"], marker="o", label=label)
    top.set_ylabel("observed conversion rate")
    top.set_title(f"Calibration ({n_bins} equal-width bins, ECE {ece:.3f})")
    top.legend(loc="upper left")
    width = 1.0 / n_bins
    bottom.bar(table["lower"] + width / 2, table["count"], width=width * 0.9, color="tab:blue")
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("rows")
    bottom.set_xlim(0, 1)
    return fig


def gains_figure(
    y_true: ArrayLike, scores: Mapping[str, ArrayLike], oracle: ArrayLike | None = None
) -> Figure:
    """Cumulative gains: share of conversions captured against share of rows taken, one line
    per scorer (model, baselines), the chance diagonal, and the oracle if its scores are given."""
    fig = _figure(figsize=(6, 5), layout="constrained")
    ax = fig.subplots()
    for name, score in scores.items():
        ax.plot(*gains_curve(y_true, score), label=name)
    if oracle is not None:
        ax.plot(*gains_curve(y_true, oracle), label="oracle", linestyle=":", color="black")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set_xlabel("share of collaborations taken, best score first")
    ax.set_ylabel("share of conversions captured")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Cumulative gains")
    ax.legend(loc="lower right")
    return fig


def feature_importance_figure(
    importance: pd.DataFrame, top: int = 20, value: str = "gain"
) -> Figure:
    """Horizontal bars of the `top` features by `value` (a column of
    ConversionModel.feature_importance()), largest at the top."""
    if not {"feature", value} <= set(importance.columns):
        raise ValueError(f"importance frame needs columns 'feature' and {value!r}")
    shown = importance.nlargest(top, value).iloc[::-1]
    fig = _figure(figsize=(6, 0.3 * len(shown) + 1.2), layout="constrained")
    ax = fig.subplots()
    ax.barh(np.arange(len(shown)), shown[value], color="tab:blue")
    ax.set_yticks(np.arange(len(shown)), labels=shown["feature"].astype(str).tolist())
    ax.set_xlabel(f"importance ({value})")
    ax.set_title(f"Top {len(shown)} features")
    return fig
