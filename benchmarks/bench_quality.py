"""Benchmark: model quality on several generated worlds: test AUC and NDCG@10 of the model,
of logistic regression and of the oracle (p_true), and the share of the oracle's lift.

Each world (default 5,000 influencers, 200 brands, as `make demo`) is generated into
benchmarks/out/ once per seed; no MLflow, the time split and the model of `recommender train`.
Run: .venv/bin/python benchmarks/bench_quality.py [--seeds 7 1 2]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from common import figure, record

OUT = Path(__file__).resolve().parent / "out"
LIFT_GOAL = 0.8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--influencers", type=int, default=5_000)
    parser.add_argument("--brands", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 1, 2])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from recommender.evaluation import evaluate_window
    from recommender.train import fit, prepare
    from recommender.world import generate_world

    figures = []
    for seed in args.seeds:
        world = OUT / f"world-{args.influencers}-{args.brands}-{seed}"
        if not (world / "posts.parquet").exists():
            generate_world(world, args.influencers, args.brands, seed=seed)
        data = prepare(world)
        m = evaluate_window(fit(data, seed=7), data.train, data.test, data.truth).metrics
        figures += [
            figure(f"seed {seed}: model test AUC", round(m["auc"], 4), "AUC",
                   f"> logistic regression {m['baseline_logistic_regression_auc']:.4f}",
                   bool(m["auc"] > m["baseline_logistic_regression_auc"])),
            figure(f"seed {seed}: model NDCG@10", round(m["ndcg_at_10"], 4), "NDCG",
                   f"> logistic regression {m['baseline_logistic_regression_ndcg_at_10']:.4f}",
                   bool(m["ndcg_at_10"] > m["baseline_logistic_regression_ndcg_at_10"])),
            figure(f"seed {seed}: oracle test AUC", round(m["oracle_auc"], 4), "AUC"),
            figure(f"seed {seed}: share of the oracle's lift", round(m["oracle_lift_share"], 3),
                   "share", f">= {LIFT_GOAL}", bool(m["oracle_lift_share"] >= LIFT_GOAL)),
            figure(f"seed {seed}: expected calibration error", round(m["ece"], 4), "ECE",
                   "< 0.03", bool(m["ece"] < 0.03)),
        ]
    record("quality", figures, scale=f"{args.influencers} influencers, {args.brands} brands, "
           f"seeds {' '.join(map(str, args.seeds))}")


if __name__ == "__main__":
    main()
