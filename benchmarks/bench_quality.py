"""Benchmark: model quality on several generated worlds: test AUC and NDCG@10 of the model,
of logistic regression and of the oracle (p_true), and the share of the oracle's lift, beside
the share an informed learner reaches (see ceiling.py) and, on the first seed, how the share
grows with the number of brands (more collaborations, longer track records).

Each world (default 5,000 influencers, 200 brands, as `make demo`) is generated into
benchmarks/out/ once per seed; no MLflow, the time split and the model of `recommender train`.
Run: .venv/bin/python benchmarks/bench_quality.py [--seeds 7 1 2] [--curve-brands 100 400 800]
"""

from __future__ import annotations

import argparse
import logging

from ceiling import informed_features, informed_learner_scores
from common import ensure_world, figure, record

LIFT_GOAL = 0.8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--influencers", type=int, default=5_000)
    parser.add_argument("--brands", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 1, 2])
    parser.add_argument("--curve-brands", type=int, nargs="*", default=[],
                        help="other numbers of brands to measure the first seed's share at")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    figures = []
    for seed in args.seeds:
        data, m = _measure(args.influencers, args.brands, seed)
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
            figure(f"seed {seed}: informed learner's share of the oracle's lift",
                   round(_informed_share(data, m["oracle_auc"]), 3), "share"),
        ]
    for brands in args.curve_brands:
        data, m = _measure(args.influencers, brands, args.seeds[0])
        figures.append(figure(
            f"seed {args.seeds[0]}, {brands} brands ({len(data.rows)} collaborations): share "
            f"of the oracle's lift (informed learner {_informed_share(data, m['oracle_auc']):.3f})",
            round(m["oracle_lift_share"], 3), "share"))
    record("quality", figures, scale=f"{args.influencers} influencers, {args.brands} brands, "
           f"seeds {' '.join(map(str, args.seeds))}; curve over "
           f"{' '.join(map(str, args.curve_brands)) or 'no other'} brands")


def _measure(influencers: int, brands: int, seed: int):
    """(training data, test metrics of the model trained as `recommender train` does)."""
    from recommender.evaluation import evaluate_window
    from recommender.train import fit, prepare

    data = prepare(ensure_world(influencers, brands, seed))
    return data, evaluate_window(fit(data, seed=7), data.train, data.test, data.truth).metrics


def _informed_share(data, oracle_auc: float) -> float:
    """The informed learner's (ceiling.py) test AUC as a share of the oracle's lift."""
    from recommender.metrics import auc

    rows, features = informed_features(data.rows, data.truth)
    train, _, test = data.split.split(rows)
    score = informed_learner_scores(train, test, features)
    return (auc(test["converted"], score) - 0.5) / (oracle_auc - 0.5)


if __name__ == "__main__":
    main()
