"""Tree inference: lleaves only where it matches Booster.predict, Booster.predict otherwise."""

from __future__ import annotations

import pickle

import lightgbm as lgb
import numpy as np
import pytest

from recommender import inference
from recommender.inference import TOLERANCE, TreePredictor, lleaves_available


@pytest.fixture(scope="module")
def booster_and_matrix() -> tuple[lgb.Booster, np.ndarray]:
    """A small booster with a categorical feature and missing values, and rows to score."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3_000, 6))
    X[:, 5] = rng.integers(0, 4, 3_000)
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + (X[:, 5] == 2) + rng.normal(size=3_000) > 0.5).astype(int)
    params = {"objective": "binary", "num_leaves": 7, "verbosity": -1, "seed": 0}
    booster = lgb.train(params, lgb.Dataset(X, y, categorical_feature=[5]), num_boost_round=20)
    return booster, X


def test_lightgbm_backend_is_booster_predict(booster_and_matrix):
    booster, X = booster_and_matrix
    p = TreePredictor(booster, "lightgbm")
    np.testing.assert_array_equal(p.predict(X), booster.predict(X))
    assert p.backend == "lightgbm"


@pytest.mark.skipif(not lleaves_available(), reason="lleaves is not installed")
def test_lleaves_is_used_and_within_tolerance_of_booster_predict(booster_and_matrix,
                                                                compiled_model_cache):
    booster, X = booster_and_matrix
    p = TreePredictor(booster, "auto")
    got = p.predict(X)
    assert p.backend == "lleaves"
    assert np.max(np.abs(got - booster.predict(X))) <= TOLERANCE
    assert any(compiled_model_cache.glob("lleaves/*.so")), "the compiled model is cached"
    again = pickle.loads(pickle.dumps(p))  # shipped to a worker: recompiled from the cache
    np.testing.assert_array_equal(again.predict(X), got)


@pytest.mark.skipif(not lleaves_available(), reason="lleaves is not installed")
def test_a_copy_taken_while_choosing_chooses_again(booster_and_matrix, compiled_model_cache):
    """Dask may copy a worker's data to another worker while `_choose` runs in the task
    thread: the copy must not keep the provisional Booster.predict choice."""
    booster, X = booster_and_matrix
    p = TreePredictor(booster, "auto")
    p._checked, p.backend = True, "lightgbm"  # the state `_choose` starts with
    again = pickle.loads(pickle.dumps(p))
    again.predict(X)
    assert again.backend == "lleaves"


def test_a_compiled_model_that_disagrees_is_never_used(booster_and_matrix, monkeypatch):
    booster, X = booster_and_matrix

    class OffByALittle:
        def predict(self, matrix, n_jobs=1):
            return booster.predict(matrix) + 1e-4

    monkeypatch.setattr(inference, "lleaves_available", lambda: True)
    monkeypatch.setattr(inference, "compile_lleaves", lambda text, cache=None: OffByALittle())
    p = TreePredictor(booster, "auto")
    np.testing.assert_array_equal(p.predict(X), booster.predict(X))
    assert p.backend == "lightgbm"


def test_without_lleaves_booster_predict_is_the_fallback(booster_and_matrix, monkeypatch):
    booster, X = booster_and_matrix
    monkeypatch.setattr(inference, "lleaves_available", lambda: False)
    p = TreePredictor(booster, "lleaves")
    np.testing.assert_array_equal(p.predict(X), booster.predict(X))
    assert p.backend == "lightgbm"


def test_unknown_backend_is_refused(booster_and_matrix):
    with pytest.raises(ValueError, match="onnx"):
        TreePredictor(booster_and_matrix[0], "onnx")
