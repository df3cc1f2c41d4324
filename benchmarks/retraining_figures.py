"""Figures of docs/model.md, "Retraining": test-window metrics of `recommender train`'s model
on one generated world, for each outcome lag given, as a Markdown table.

The same command runs on an older checkout (PYTHONPATH=<checkout>/src) to give the "before"
row: metrics that code does not compute are shown as "-", and an outcome lag it does not
know is left out. No MLflow; the world (default the `make demo` size) is generated into
benchmarks/out/ once.
Run: .venv/bin/python benchmarks/retraining_figures.py [--seed 7] [--lags 0 30]
"""

from __future__ import annotations

import argparse
import inspect
import logging
import math

from common import ensure_world

SHOWN = ("auc", "within_brand_auc", "ndcg_at_10", "precision_at_10", "recall_at_10",
         "ranked_brands_at_10", "log_loss", "ece", "oracle_lift_share", "cold_start_auc",
         "cold_start_recall_at_10", "rows_train", "rows_valid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--influencers", type=int, default=5_000)
    parser.add_argument("--brands", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lags", type=float, nargs="+", default=[0.0, 30.0])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from recommender.evaluation import evaluate_window
    from recommender.train import fit, prepare

    world = ensure_world(args.influencers, args.brands, args.seed)
    knows_lag = "outcome_lag" in inspect.signature(prepare).parameters
    print("| outcome lag | " + " | ".join(SHOWN) + " |")
    print("|---" * (len(SHOWN) + 1) + "|")
    for lag in args.lags if knows_lag else [None]:
        data = prepare(world, outcome_lag=lag) if knows_lag else prepare(world)
        m = dict(evaluate_window(fit(data, seed=7), data.train, data.test, data.truth).metrics)
        m.update(rows_train=len(data.train), rows_valid=len(data.valid))
        cells = ["-" if k not in m or not math.isfinite(m[k]) else
                 (f"{m[k]:.0f}" if k.startswith(("rows", "ranked")) else f"{m[k]:.3f}")
                 for k in SHOWN]
        print(f"| {'-' if lag is None else f'{lag:g} days'} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
