"""Faults: `generate`, `features`, `train` and `score` killed (SIGKILL) at a random moment leave
no partial output and no half-registered model, and a rerun succeeds with the same result; a
`train` stopped by SIGTERM also ends its MLflow run as KILLED.

Each command runs as a real process. One kill lands at a seeded random instant of a clean
run's duration, one the moment the command starts writing its output (a temp file appears,
or a model version row appears in the MLflow store). Output written by a kill-free run is
the reference: what survives a kill is either absent or byte-identical to it.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import mlflow_store

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "recommender.cli"]
SEED = 20261127
WORLD = ["--influencers", "300", "--brands", "20", "--months", "12", "--seed", "5"]
MODEL = "fault-ranker"
TEMP = re.compile(r"\.(.+)\.(\d+)\..*\.tmp")  # how io.atomic_path / staging_dir name temps


def env_for(store: Path) -> dict[str, str]:
    uri = f"sqlite:///{store}/mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri,
           "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_EXPERIMENT_ID", None)  # left in os.environ by in-process set_experiment
    return env


def run_ok(args: list[str], cwd: Path, env: dict | None = None) -> float:
    """Run a command to completion; its wall time."""
    start = time.perf_counter()
    done = subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return time.perf_counter() - start


def run_killed(args: list[str], cwd: Path, env: dict | None, when: Callable[[float], bool],
               timeout: float = 120.0) -> bool:
    """Start a command and SIGKILL it (its whole process group) as soon as `when(elapsed)`
    holds. Returns True if it was killed, False if it finished first."""
    proc = subprocess.Popen([*CLI, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    start = time.perf_counter()
    try:
        while proc.poll() is None:
            elapsed = time.perf_counter() - start
            if when(elapsed) or elapsed > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.002)
        return False
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def at_random(rng: random.Random, duration: float) -> Callable[[float], bool]:
    """A kill at a seeded random instant within a clean run's duration."""
    moment = rng.uniform(0.3, 1.0) * duration
    return lambda elapsed: elapsed >= moment


def when_temp_appears(folder: Path) -> Callable[[float], bool]:
    """A kill the moment a writer's temp file or staging folder appears in `folder`."""
    return lambda _: folder.is_dir() and any(TEMP.fullmatch(p.name) for p in folder.iterdir())


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TEMP.fullmatch(p.name))


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ----------------------------------------------------------------------------- temp files


def test_temps_of_a_killed_writer_are_swept_and_live_ones_kept(tmp_path: Path):
    from recommender.io import sweep_stale_temps, write_parquet_atomic

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".scores.parquet.{dead.pid}.abc.tmp"
    stale.write_bytes(b"half a file")
    stale_dir = tmp_path / f".world.{dead.pid}.xyz.tmp"
    stale_dir.mkdir()
    live = tmp_path / f".scores.parquet.{os.getppid()}.def.tmp"  # pytest's parent: alive
    live.write_bytes(b"being written")
    assert sweep_stale_temps(tmp_path / "world") == [stale_dir]
    write_parquet_atomic(pd.DataFrame({"a": [1]}), tmp_path / "scores.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, "scores.parquet"])


# ----------------------------------------------------------------------------- generate


def test_killed_generate_leaves_no_half_world_and_a_rerun_gives_the_same_bytes(tmp_path: Path):
    duration = run_ok(["generate", "--out", "ref", *WORLD], tmp_path)
    reference = file_bytes(tmp_path / "ref")
    assert len(reference) == 8  # the contract tables, truth and truth_catalogue
    rng = random.Random(SEED)
    killed = []
    for i, (when, certain) in enumerate([(at_random(rng, duration), False),
                                         (when_temp_appears(tmp_path), True)]):
        out = tmp_path / f"world{i}"
        killed.append(run_killed(["generate", "--out", out.name, *WORLD], tmp_path, None, when))
        assert killed[-1] or not certain, "generate finished before its temp folder was seen"
        # no half world: the folder appears whole (renamed from its staging folder) or not at all
        assert not out.exists() or file_bytes(out) == reference
        assert all(t.startswith(f".{out.name}.") for t in temps(tmp_path))
        run_ok(["generate", "--out", out.name, *WORLD], tmp_path)
        assert file_bytes(out) == reference  # same seed, same bytes, also after a kill
        assert temps(tmp_path) == [], "the rerun sweeps what the killed run left"
    assert any(killed), "no generate run was killed"


# ----------------------------------------------------------------------------- features


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from recommender.world import generate_world

    root = tmp_path_factory.mktemp("fault_world")
    generate_world(root / "data", n_influencers=300, n_brands=20, months=12, seed=5)
    inf = pd.read_parquet(root / "data" / "influencers.parquet")["influencer_id"]
    brands = pd.read_parquet(root / "data" / "brands.parquet")["brand_id"]
    pairs = pd.MultiIndex.from_product([brands, inf], names=["brand_id", "influencer_id"])
    pairs.to_frame(index=False).to_csv(root / "pairs.csv", index=False)
    return root


def test_killed_features_leaves_no_partial_file_and_a_rerun_succeeds(world: Path):
    args = ["features", "--data", "data", "--pairs", "pairs.csv", "--out"]
    out_dir = world / "features"
    duration = run_ok([*args, "features/ref.parquet"], world)
    reference = (out_dir / "ref.parquet").read_bytes()
    rng = random.Random(SEED + 1)
    killed = []
    for i, (when, certain) in enumerate([(at_random(rng, duration), False),
                                         (when_temp_appears(out_dir), True)]):
        out = out_dir / f"run{i}.parquet"
        killed.append(run_killed([*args, f"features/{out.name}"], world, None, when))
        assert killed[-1] or not certain, "features finished before its temp file was seen"
        assert not out.exists() or out.read_bytes() == reference
        run_ok([*args, f"features/{out.name}"], world)
        assert out.read_bytes() == reference
        assert temps(out_dir) == []
    assert any(killed), "no features run was killed"


# ----------------------------------------------------------------------------- train


def versions(store: Path) -> list:
    uri = f"sqlite:///{store}/mlflow.db"
    client = mlflow.MlflowClient(uri, uri)
    return [client.get_model_version(MODEL, v.version)
            for v in client.search_model_versions(f"name = '{MODEL}'")]


def version_rows(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store}/mlflow.db?mode=ro", uri=True, timeout=0.05) as db:
            return db.execute("select count(*) from model_versions").fetchone()[0]
    except sqlite3.Error:  # locked by the writer, or no table yet
        return -1


def assert_registry_whole(store: Path, after_rerun: bool) -> None:
    """Every version holding an alias is complete and loadable; a version whose registration
    was cut short holds no alias (nothing can use it) and is gone after a rerun."""
    from recommender.pyfunc import load_conversion_model

    with mlflow_store(f"sqlite:///{store}/mlflow.db"):
        for v in versions(store):
            if v.aliases:
                model = load_conversion_model(f"models:/{MODEL}/{v.version}")
                assert model.features_
                assert after_rerun is False or v.tags["registration"] == "complete"
            else:
                assert not after_rerun or v.tags.get("registration") != "pending", v


@pytest.fixture(scope="module")
def trained(world: Path) -> dict:
    """A kill-free `train` that registers MODEL@champion: the reference."""
    store = world / "store"
    store.mkdir()
    env = env_for(store)
    args = ["train", "--data", str(world / "data"), "--seed", "3", "--num-boost-round", "60",
            "--model-name", MODEL, "--experiment", "faults"]
    duration = run_ok(args, store, env)
    return {"store": store, "env": env, "args": args, "duration": duration}


def predictions(store: Path, version: str, data: Path) -> np.ndarray:
    from recommender.pyfunc import load_conversion_model
    from recommender.train import prepare

    with mlflow_store(f"sqlite:///{store}/mlflow.db"):
        model = load_conversion_model(f"models:/{MODEL}/{version}")
    test = prepare(data).test
    return model.predict_proba(test[model.features_])


def test_killed_train_leaves_no_half_registered_model_and_a_rerun_reproduces_it(
        trained: dict, world: Path):
    store, env, args = trained["store"], trained["env"], trained["args"]
    assert [v.aliases for v in versions(store)] == [["champion"]]
    rows = version_rows(store)
    rng = random.Random(SEED + 2)
    kills = [(at_random(rng, trained["duration"]), False),
             (lambda _: version_rows(store) > rows, True)]  # right after the version row
    killed = []
    for when, certain in kills:
        killed.append(run_killed([*args], store, env, when))
        assert killed[-1] or not certain, "train finished before its version row was seen"
        assert_registry_whole(store, after_rerun=False)
    assert any(killed), "no train run was killed"
    run_ok(args, store, env)
    assert_registry_whole(store, after_rerun=True)
    champion = next(v for v in versions(store) if "champion" in v.aliases)
    first = min(versions(store), key=lambda v: int(v.version))
    assert champion.version != first.version, "the rerun registered a new champion"
    # two train runs on the same data and seed, in two processes: identical predictions
    np.testing.assert_array_equal(predictions(store, champion.version, world / "data"),
                                  predictions(store, first.version, world / "data"))


def run_statuses(store: Path) -> list[str]:
    try:
        with sqlite3.connect(f"file:{store}/mlflow.db?mode=ro", uri=True, timeout=0.05) as db:
            return [row[0] for row in db.execute("select status from runs order by start_time")]
    except sqlite3.Error:  # locked by the writer, or no table yet
        return []


def test_terminated_train_ends_its_run_as_killed_and_leaves_no_half_registered_model(
        trained: dict, tmp_path: Path):
    store, args = tmp_path / "store", trained["args"]
    store.mkdir()
    env = env_for(store)
    proc = subprocess.Popen([*CLI, *args], cwd=store, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.perf_counter() + 120
        while "RUNNING" not in run_statuses(store) and proc.poll() is None:
            assert time.perf_counter() < deadline, "no MLflow run started"
            time.sleep(0.01)
        assert proc.poll() is None, "train finished before it could be stopped"
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr and "stopped" in stderr
    assert run_statuses(store) == ["KILLED"]
    assert_registry_whole(store, after_rerun=False)


# ----------------------------------------------------------------------------- score


def test_killed_score_leaves_no_partial_file_and_a_rerun_succeeds(trained: dict, world: Path):
    store, env = trained["store"], trained["env"]
    out_dir = world / "scores"
    args = ["score", "--pairs", str(world / "pairs.csv"), "--data", str(world / "data"),
            "--model", f"models:/{MODEL}/1", "--chunk-size", "1000", "--out"]
    run_ok([*args, str(out_dir / "ref.parquet")], store, env)
    reference = pd.read_parquet(out_dir / "ref.parquet")
    assert len(reference) == len(pd.read_csv(world / "pairs.csv"))
    out = out_dir / "run.parquet"  # one kill (a score run costs ~5 s): while it writes
    assert run_killed([*args, str(out)], store, env, when_temp_appears(out_dir))
    assert not out.exists()
    run_ok([*args, str(out)], store, env)
    pd.testing.assert_frame_equal(pd.read_parquet(out), reference)
    assert temps(out_dir) == []
