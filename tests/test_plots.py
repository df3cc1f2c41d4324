"""Tests for the evaluation figures: the right number of lines and bars, and they render."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from recommender.plots import calibration_figure, feature_importance_figure, gains_figure


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.6, 200)
    return (rng.random(200) < p).astype(int), p


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_calibration_figure_has_diagonal_curve_and_one_count_bar_per_bin(scored):
    y, p = scored
    fig = calibration_figure(y, p, n_bins=8)
    top, bottom = fig.axes
    assert len(top.get_lines()) == 2
    model_line = top.get_lines()[1]
    assert len(model_line.get_xdata()) == 5  # scores below 0.6 fill 5 of 8 bins (width .125)
    assert len(bottom.patches) == 8
    assert sum(bar.get_height() for bar in bottom.patches) == 200
    assert _png(fig).startswith(b"\x89PNG")


def test_gains_figure_has_a_line_per_scorer_plus_random_and_oracle(scored):
    y, p = scored
    fig = gains_figure(y, {"model": p, "random": np.random.default_rng(1).random(200)}, oracle=p)
    (ax,) = fig.axes
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["model", "random", "oracle", "chance"]
    assert len(gains_figure(y, {"model": p}).axes[0].get_lines()) == 2
    model = ax.get_lines()[0]
    assert model.get_ydata()[-1] == pytest.approx(1.0)  # every conversion captured at the end
    assert len(model.get_xdata()) == 201


def test_feature_importance_figure_shows_top_features_largest_first():
    imp = pd.DataFrame({"feature": list("abcde"), "gain": [5.0, 1.0, 4.0, 3.0, 2.0]})
    fig = feature_importance_figure(imp, top=3)
    (ax,) = fig.axes
    assert len(ax.patches) == 3
    assert [t.get_text() for t in ax.get_yticklabels()] == ["d", "c", "a"]  # bottom to top
    assert [bar.get_width() for bar in ax.patches] == [3.0, 4.0, 5.0]
    assert _png(fig).startswith(b"\x89PNG")


def test_feature_importance_figure_names_missing_column():
    with pytest.raises(ValueError, match="'gain'"):
        feature_importance_figure(pd.DataFrame({"feature": ["a"], "split": [1]}))
