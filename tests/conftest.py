"""Shared test fixtures."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

SMALL_WORLD = {"n_influencers": 2000, "n_brands": 50, "seed": 11}


def generated_world(tmp_path_factory: pytest.TempPathFactory, name: str, params: dict) -> Path:
    """A world from the generator with `params`, in a fresh temporary folder."""
    from recommender.world import generate_world

    out = tmp_path_factory.mktemp(name)
    generate_world(out, **params)
    return out


@pytest.fixture(scope="session")
def small_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated world of 2,000 influencers and 50 brands, written once per session."""
    return generated_world(tmp_path_factory, "small_world", SMALL_WORLD)


@pytest.fixture(scope="session")
def small_world(small_world_dir: Path) -> dict[str, pd.DataFrame]:
    """The small world's tables as written (Parquet read back), keyed by table name."""
    return {p.stem: pd.read_parquet(p) for p in sorted(small_world_dir.glob("*.parquet"))}


# ----------------------------------------------------------------------------- features
# A tiny hand-checked dataset for the feature tests: every expected value in
# tests/test_features_*.py is computed by hand from these rows (see the comments).
TINY_AS_OF = pd.Timestamp("2024-06-01T00:00:00Z")


def _days_before(days: float) -> str:
    return (TINY_AS_OF - pd.Timedelta(days=days)).isoformat()


def tiny_frames() -> dict[str, pd.DataFrame]:
    """Raw contract frames: 3 influencers (i3 never posts), 2 brands, 5 collaborations.

    i1 (followers 5000, followers_at_post given) posts at as_of-400d ER .10, -200d ER .05
    (sponsored), -60d ER .02, -10d ER .04, then a sponsored post for b1 exactly at as_of
    and one after it (both must never count). i2 (no followers_at_post: ER over followers
    2000) posts at -20d ER .05 (views ER .1) and -5d ER .2 (views ER .2).
    """
    influencers = pd.DataFrame({
        "influencer_id": ["i1", "i2", "i3"],
        "platform": ["instagram", "tiktok", "youtube"],
        "niche": ["fitness", "beauty", "food"],
        "followers": [5000, 2000, 3000],
        "country": ["US", "FR", None],
        "real_follower_share": [0.9, 0.5, None],
        "price_per_post": [110.0, None, 50.0],
    })
    posts = pd.DataFrame({
        "post_id": ["p1", "p2", "p3", "p4", "p5", "p6", "q1", "q2"],
        "influencer_id": ["i1"] * 6 + ["i2"] * 2,
        "posted_at": [_days_before(d) for d in (400, 200, 60, 10, 0, -1, 20, 5)],
        "likes": [70, 40, 20, 34, 900, 500, 100, 300],
        "comments": [10, 5, 0, 10, 100, 0, 0, 100],
        "views": [None, None, None, None, None, None, 1000, 2000],
        "followers_at_post": [800, 900, 1000, 1100, 1200, 1200, None, None],
        "sponsored": [False, True, False, False, True, False, False, False],
        "brand_id": [None, "b2", None, None, "b1", None, None, None],
    })
    brands = pd.DataFrame({
        "brand_id": ["b1", "b2"], "name": ["Brand one", "Brand two"],
        "category": ["fitness", "beauty"], "country": ["US", None],
    })
    audience = pd.DataFrame(
        [("i1", "age", "18-24", 0.6), ("i1", "age", "25-34", 0.4),
         ("i1", "gender", "female", 0.7), ("i1", "gender", "male", 0.3),
         ("i1", "country", "US", 0.8), ("i1", "country", "FR", 0.2),
         ("i2", "age", "18-24", 0.2), ("i2", "age", "25-34", 0.5), ("i2", "age", "35-44", 0.3),
         ("i2", "gender", "female", 0.4), ("i2", "gender", "male", 0.6)],
        columns=["influencer_id", "dimension", "segment", "share"],
    )
    brand_audience = pd.DataFrame(
        [("b1", "age", "18-24", 0.5), ("b1", "age", "25-34", 0.5),
         ("b1", "gender", "female", 1.0), ("b1", "country", "US", 1.0)],
        columns=["brand_id", "dimension", "segment", "share"],
    )
    collaborations = pd.DataFrame({
        "collaboration_id": ["c1", "c2", "c3", "c4", "c5"],
        "brand_id": ["b1", "b1", "b2", "b1", "b2"],
        "influencer_id": ["i1", "i2", "i1", "i1", "i2"],
        "started_at": [_days_before(d) for d in (100, 50, 30, 0, -10)],
        "fee": [100.0, 80.0, 90.0, 120.0, 70.0],
        "clicks": [30, 5, 12, 50, 20],
        "conversions": [3, 0, 1, 5, 2],
        # outcomes final at the start, so the hand-computed rates need no outcome lag
        "settled_at": [_days_before(d) for d in (100, 50, 30, 0, -10)],
    })
    return {"influencers": influencers, "posts": posts, "brands": brands,
            "audience": audience, "brand_audience": brand_audience,
            "collaborations": collaborations}


def pair_row(feats: pd.DataFrame, brand: str, influencer: str) -> pd.Series:
    """The feature row of one (brand, influencer) pair."""
    return feats.set_index(["brand_id", "influencer_id"]).loc[(brand, influencer)]


@pytest.fixture
def tiny_ds():
    """The tiny dataset, validated."""
    from recommender.validate import validate_frames

    return validate_frames(tiny_frames())


@pytest.fixture
def tiny_pairs() -> pd.DataFrame:
    """Every brand x influencer of the tiny dataset, as of TINY_AS_OF."""
    return pd.DataFrame({
        "brand_id": ["b1", "b1", "b1", "b2", "b2", "b2"],
        "influencer_id": ["i1", "i2", "i3", "i1", "i2", "i3"],
        "as_of": TINY_AS_OF,
    })


FEATURE_WORLD = {"n_influencers": 300, "n_brands": 20, "months": 12, "seed": 5}


@pytest.fixture(scope="session")
def feature_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated world of 300 influencers and 20 brands over 12 months."""
    return generated_world(tmp_path_factory, "feature_world", FEATURE_WORLD)


# ----------------------------------------------------------------------------- ranker
@pytest.fixture(scope="session")
def ranker_parts(feature_world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The feature world's Dataset, a tiny ConversionModel (at most 30 trees) trained on a
    time split of its collaborations, and a ranker snapshot of it (as of the latest time)."""
    from recommender.features import FEATURE_COLUMNS, LABEL, build_training_set
    from recommender.model import ConversionModel
    from recommender.snapshot import build_snapshot
    from recommender.split import TimeSplit
    from recommender.validate import load_dataset

    ds = load_dataset(feature_world_dir)
    ts = build_training_set(ds)
    train, valid, _ = TimeSplit.from_frame(ts).masks(ts["as_of"])
    model = ConversionModel(num_boost_round=30, early_stopping_rounds=30).fit(
        ts.loc[train, FEATURE_COLUMNS], ts.loc[train, LABEL],
        ts.loc[valid, FEATURE_COLUMNS], ts.loc[valid, LABEL])
    snapshot = build_snapshot(ds, model, out_dir=tmp_path_factory.mktemp("ranker_snapshot"))
    return {"ds": ds, "model": model, "snapshot_dir": snapshot, "data_dir": feature_world_dir}


@contextlib.contextmanager
def mlflow_store(uri: str) -> Iterator[None]:
    """Point MLflow's tracking and registry at `uri`; restore the earlier setting after."""
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    before = tracking_utils._tracking_uri, registry_utils._registry_uri
    # set_tracking_uri / set_registry_uri also write MLFLOW_* variables into os.environ
    env_before = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        tracking_utils._tracking_uri, registry_utils._registry_uri = before
        for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
            if key not in env_before:
                del os.environ[key]
        os.environ.update(env_before)


@pytest.fixture(scope="session")
def registered_ranker(ranker_parts: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The tiny ranker logged in a run and registered as influencer-ranker@champion in a
    temporary SQLite MLflow store (use it inside `mlflow_store(result["tracking_uri"])`)."""
    import mlflow

    from recommender.config import CHAMPION_ALIAS, DEFAULT_MODEL_URI, REGISTERED_MODEL_NAME
    from recommender.pyfunc import log_ranker
    from recommender.registry import Decision, register_model

    store = tmp_path_factory.mktemp("ranker_store")
    uri = f"sqlite:///{store}/mlflow.db"
    with mlflow_store(uri):
        experiment = mlflow.create_experiment("ranker",
                                              artifact_location=(store / "art").as_uri())
        with mlflow.start_run(experiment_id=experiment) as run:
            info = log_ranker(ranker_parts["model"], ranker_parts["ds"])
        version = register_model(info.model_uri, REGISTERED_MODEL_NAME,
                                 Decision(CHAMPION_ALIAS, "test"), mlflow.MlflowClient(uri, uri))
    return {"tracking_uri": uri, "model_uri": DEFAULT_MODEL_URI, "version": version.version,
            "run_id": run.info.run_id, "experiment_id": experiment, "store": store}


# ----------------------------------------------------------------------------- training
@pytest.fixture(scope="session")
def trained_world(small_world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One `train` run on the small world, in its own SQLite MLflow store."""
    import mlflow

    from recommender.train import run_training

    store = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{store}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    result = run_training(small_world_dir, experiment="test-train", model_name="test-ranker",
                          seed=3)
    return {"tracking_uri": uri, "experiment": "test-train", "model_name": "test-ranker",
            "run_id": result.run_id, "result": result, "data_dir": small_world_dir}


# ----------------------------------------------------------------------------- batch scoring
@pytest.fixture(scope="session", autouse=True)
def compiled_model_cache(tmp_path_factory: pytest.TempPathFactory):
    """Compiled models (lleaves) cached in a temporary folder for the session, not in ~ (for
    every test: the ranker compiles its trees when it loads)."""
    folder = tmp_path_factory.mktemp("compiled")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECOMMENDER_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def saved_model_dir(trained_world: dict, tmp_path_factory: pytest.TempPathFactory,
                    compiled_model_cache: Path) -> Path:
    """The trained world's conversion model saved as a plain folder (booster.txt + model.json)."""
    return trained_world["result"].model.save(tmp_path_factory.mktemp("model") / "conversion")


@pytest.fixture(scope="session")
def dask_scheduler(compiled_model_cache: Path):
    """The address of a real 2-worker LocalCluster (one thread per worker process)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address
