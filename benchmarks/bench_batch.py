"""Benchmark: batch scoring throughput and memory, and compiled tree inference (issue 6).

In one run, on the 5,000-influencer, 200-brand demo world and the project's model trained on it
(early stopping, default parameters):
- scores 1,000,000 pairs end to end with `recommender.batch.score_pairs` (read the pairs file,
  validate, features, predict, write Parquet; the data folder and model are loaded first and
  timed apart as set-up) and times `Booster.predict` alone on the already computed feature
  matrix of the same pairs. Goal: end-to-end throughput >= half the raw prediction rate.
- scores 10,000,000 pairs in a fresh process and records its peak memory. Goal: < 2 GB.
- times every installed tree-inference backend against `Booster.predict` on the same matrix
  (lleaves; onnxruntime and tl2cgen when installed), with their largest gap to it, on the
  project's model and on a 300-tree, 63-leaf model of the same data.

Inputs are generated into benchmarks/out/ (git-ignored). Figures go to results.json.
Run: .venv/bin/python benchmarks/bench_batch.py [--skip-memory]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ensure_world, figure, peak_memory_mb, record

OUT = Path(__file__).resolve().parent / "out" / "batch"
WORLD = {"influencers": 5_000, "brands": 200, "seed": 7}
GOAL_RATIO = 0.5
GOAL_MEMORY_MB = 2048.0
CHUNK = 200_000
LOAD_AT_START = os.getloadavg()[0]


def ensure_inputs() -> tuple[Path, Path]:
    """The demo world (common.ensure_world) and the project's model, trained afresh on it
    (into OUT) so that the figures follow the current defaults (a few seconds)."""
    from recommender.train import fit, prepare

    world, model_dir = ensure_world(**WORLD), OUT / "model"
    fit(prepare(world)).save(model_dir)
    return world, model_dir


def pairs_file(world: Path, n: int) -> Path:
    """n random (brand, influencer) pairs without as_of (= the data's latest instant)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = OUT / f"pairs-{n}.parquet"
    if path.exists():
        return path
    brands = pq.read_table(world / "brands.parquet", columns=["brand_id"])["brand_id"]
    infl = pq.read_table(world / "influencers.parquet", columns=["influencer_id"])["influencer_id"]
    rng = np.random.default_rng(0)
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, pa.schema([("brand_id", pa.string()),
                                          ("influencer_id", pa.string())])) as writer:
        for start in range(0, n, 1_000_000):
            m = min(1_000_000, n - start)
            writer.write_table(pa.table({
                "brand_id": brands.take(rng.integers(0, len(brands), m)).cast(pa.string()),
                "influencer_id": infl.take(rng.integers(0, len(infl), m)).cast(pa.string())}))
    tmp.replace(path)
    return path


def best_of(fn, repeats: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def backends(booster_text: str, matrix: np.ndarray, label: str, cache: Path) -> list[dict]:
    """Booster.predict against every installed compiled backend on `matrix` (best of 5 each).

    lleaves compiles into `cache`: a fresh folder measures the first compilation, a used
    one the load from the cache."""
    import lightgbm as lgb

    booster = lgb.Booster(model_str=booster_text)
    base_s, base = best_of(lambda: booster.predict(matrix), repeats=5)
    figs = [figure(f"{label}: Booster.predict", len(matrix) / base_s, "rows/s")]
    for name, build in (("lleaves", _lleaves), ("onnxruntime", _onnx), ("tl2cgen", _tl2cgen)):
        try:
            predict, build_s = build(booster, booster_text, cache)
        except ImportError:
            figs.append(figure(f"{label}: {name}", float("nan"), "x Booster.predict",
                               goal="not installed"))
            continue
        seconds, p = best_of(lambda predict=predict: predict(matrix), repeats=5)
        gap = float(np.max(np.abs(np.asarray(p, dtype=np.float64).ravel() - base)))
        figs += [figure(f"{label}: {name} speed-up", base_s / seconds, "x Booster.predict"),
                 figure(f"{label}: {name} max |gap|", gap, "probability",
                        goal="<= 1e-6 to be adopted", met=gap <= 1e-6),
                 figure(f"{label}: {name} build", build_s, "s")]
    return figs


def _lleaves(booster, text, cache):
    from recommender.inference import compile_lleaves

    start = time.perf_counter()
    compiled = compile_lleaves(text, cache)
    return (lambda m: compiled.predict(m)), time.perf_counter() - start


def _onnx(booster, text, cache):
    import onnxmltools
    import onnxruntime as ort
    from onnxmltools.convert.common.data_types import FloatTensorType

    start = time.perf_counter()
    onx = onnxmltools.convert_lightgbm(
        booster, initial_types=[("x", FloatTensorType([None, booster.num_feature()]))],
        target_opset=15, zipmap=False)
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return (lambda m: sess.run(None, {"x": m.astype(np.float32)})[1][:, 1],
            time.perf_counter() - start)


def _tl2cgen(booster, text, cache):
    import tl2cgen
    import treelite

    start = time.perf_counter()
    model = treelite.frontend.from_lightgbm(booster)
    lib = OUT / "tl2cgen.so"
    tl2cgen.export_lib(model, toolchain="gcc", libpath=str(lib), params={"parallel_comp": 4})
    predictor = tl2cgen.Predictor(str(lib))
    return (lambda m: predictor.predict(tl2cgen.DMatrix(m)).ravel(),
            time.perf_counter() - start)


def big_model(world: Path) -> str:
    """A 300-tree, 63-leaf booster of the same training set (the issue's comparison model)."""
    import lightgbm as lgb

    from recommender.features import CATEGORICAL_FEATURES, FEATURE_COLUMNS, LABEL
    from recommender.model import ConversionModel
    from recommender.train import prepare

    path = OUT / "big-booster.txt"
    if not path.exists():
        data = prepare(world)
        encoder = ConversionModel(categorical_features=CATEGORICAL_FEATURES)
        encoder._setup(data.train[FEATURE_COLUMNS], data.train[LABEL],
                       data.valid[FEATURE_COLUMNS], data.valid[LABEL])
        params = {**encoder.params_, "num_leaves": 63, "min_data_in_leaf": 5}
        dtrain = lgb.Dataset(encoder.feature_matrix(data.train[FEATURE_COLUMNS]),
                             label=data.train[LABEL].astype(int), feature_name=encoder.features_,
                             categorical_feature=CATEGORICAL_FEATURES)
        lgb.train(params, dtrain, num_boost_round=300).save_model(str(path))
    return path.read_text()


def throughput(world: Path, model_dir: Path) -> list[dict]:
    from recommender.batch import score_pairs
    from recommender.features import build_features
    from recommender.model import ConversionModel
    from recommender.validate import load_dataset

    pairs = pairs_file(world, 1_000_000)
    out = OUT / "scores-1m.parquet"
    import pandas as pd

    model = ConversionModel.load(model_dir)
    matrix = model.feature_matrix(build_features(load_dataset(world), pd.read_parquet(pairs)))
    # the machine is shared: end-to-end runs and raw predictions are interleaved, best of 3
    streams: dict[str, list[float]] = {"auto": [], "lightgbm": []}
    raw_times: list[float] = []
    for _ in range(3):
        for backend, times in streams.items():
            run = score_pairs(pairs, out, model_uri=str(model_dir), data_dir=world,
                              chunk_size=CHUNK, backend=backend)
            times.append(run.seconds - run.setup_seconds)
            if backend == "auto":
                summary = run
        raw_times.append(best_of(lambda: model.booster_.predict(matrix), repeats=2)[0])
    stream_s, raw_s = min(streams["auto"]), min(raw_times)
    plain_rate = summary.rows / min(streams["lightgbm"])
    e2e_rate, raw_rate = summary.rows / stream_s, len(matrix) / raw_s
    figs = [
        figure("load average (1 min) when the benchmark started", LOAD_AT_START, ""),
        figure("end-to-end throughput (read, validate, features, predict, write)", e2e_rate,
               "pairs/s", goal=f">= {GOAL_RATIO} x Booster.predict rate",
               met=e2e_rate >= GOAL_RATIO * raw_rate),
        figure("Booster.predict alone on the feature matrix", raw_rate, "rows/s"),
        figure("end-to-end / raw prediction rate", e2e_rate / raw_rate, "ratio",
               goal=f">= {GOAL_RATIO}", met=e2e_rate / raw_rate >= GOAL_RATIO),
        figure("end-to-end wall time, 1M pairs", stream_s, "s"),
        figure("end-to-end throughput with the fallback Booster.predict (no lleaves)",
               plain_rate, "pairs/s"),
        figure("fallback end-to-end / raw prediction rate", plain_rate / raw_rate, "ratio"),
        figure("set-up (load data folder and model, index data)", summary.setup_seconds, "s"),
        figure(f"inference backend used: {summary.backend}", 1.0, "flag"),
    ]
    with tempfile.TemporaryDirectory() as fresh:  # the project model compiled from scratch
        figs += backends(model.booster_.model_to_string(), matrix, "project model "
                         f"({model.best_iteration_} trees, {model.params_['num_leaves']} "
                         "leaves)", Path(fresh))
    # the big model compiles for minutes: measured once, then loaded from the cache
    figs += backends(big_model(world), matrix, "300 trees, 63 leaves", OUT / "lleaves-cache")
    return figs


def memory_child(world: Path, model_dir: Path, n: int) -> None:
    """In a fresh process: score n pairs, print seconds and peak memory as JSON."""
    from recommender.batch import score_pairs

    summary = score_pairs(pairs_file(world, n), OUT / f"scores-{n}.parquet",
                          model_uri=str(model_dir), data_dir=world, chunk_size=CHUNK)
    print(json.dumps({"seconds": summary.seconds, "rows": summary.rows,
                      "peak_mb": peak_memory_mb()}))


def memory(world: Path, model_dir: Path, n: int) -> list[dict]:
    pairs_file(world, n)
    result = subprocess.run([sys.executable, __file__, "--child", str(n)], check=True,
                            capture_output=True, text=True)
    child = json.loads(result.stdout.strip().splitlines()[-1])
    return [
        figure(f"peak memory, {n:,} pairs", child["peak_mb"], "MB",
               goal=f"< {GOAL_MEMORY_MB:.0f} MB", met=child["peak_mb"] < GOAL_MEMORY_MB),
        figure(f"wall time, {n:,} pairs (with set-up)", child["seconds"], "s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-pairs", type=int, default=10_000_000)
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("RECOMMENDER_CACHE", str(OUT / "cache"))  # compiled models
    world, model_dir = ensure_inputs()
    if args.child:
        memory_child(world, model_dir, args.child)
        return
    figs = throughput(world, model_dir)
    if not args.skip_memory:
        figs += memory(world, model_dir, args.memory_pairs)
    record("batch", figs, scale=f"{WORLD['influencers']} influencers, {WORLD['brands']} "
           f"brands; 1,000,000 pairs (memory: {args.memory_pairs:,}); chunks of {CHUNK:,}")


if __name__ == "__main__":
    main()
