"""Benchmark: training time, phase by phase in this process, and the whole `recommender train`
command (MLflow logging and registration included) in a fresh process, on the demo world
(5,000 influencers, 200 brands: what `make demo` trains on).

The world is generated once into benchmarks/out/ (git-ignored); its generation is timed by
bench_generate.py, not here. The MLflow store is a temporary SQLite file.
Run: .venv/bin/python benchmarks/bench_train.py [--influencers 5000]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time

from common import ensure_world, figure, peak_memory_mb, record


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--influencers", type=int, default=5_000)
    parser.add_argument("--brands", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from recommender.evaluation import evaluate_window
    from recommender.train import fit, prepare

    world = ensure_world(args.influencers, args.brands, args.seed)
    prepare_s, data = timed(lambda: prepare(world))
    fit_s, model = timed(lambda: fit(data, seed=args.seed))
    eval_s, _ = timed(lambda: evaluate_window(model, data.train, data.test, data.truth,
                                              seed=args.seed))
    with tempfile.TemporaryDirectory() as store:
        uri = f"sqlite:///{store}/mlflow.db"
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}
        command_s, done = timed(lambda: subprocess.run(
            [sys.executable, "-m", "recommender.cli", "train", "--data", str(world), "--seed",
             str(args.seed), "--experiment", "bench"], env=env, cwd=store,
            capture_output=True, text=True))
    if done.returncode != 0:
        raise SystemExit(f"recommender train failed:\n{done.stderr[-2000:]}")
    record("train", [
        figure("whole `recommender train` (fresh process: load, fit, evaluate, log, register)",
               round(command_s, 1), "s"),
        figure("prepare: read, validate, training set, time split", round(prepare_s, 2), "s"),
        figure("fit: LightGBM with early stopping + calibration", round(fit_s, 2), "s"),
        figure("evaluate: model, five baselines, oracle on the test window", round(eval_s, 2),
               "s"),
        figure("trees after early stopping", model.best_iteration_, "trees"),
        figure("training rows (train + validation + test)", len(data.rows), "rows"),
        figure("peak memory (in-process phases)", round(peak_memory_mb(), 1), "MB"),
    ], scale=f"{args.influencers} influencers, {args.brands} brands, 18 months, seed {args.seed}")


if __name__ == "__main__":
    main()
