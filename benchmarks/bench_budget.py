"""Benchmark: budget mode, exact knapsack + overlap search against the greedy it replaced, on
the first stage's candidates of the 100,000-influencer ranker saved by bench_ranker.py.

For each brief (known brands and inline ones, budgets $150 to $2,000, top_n 10) the
candidates the ranker keeps in budget mode are scored exactly, then chosen three ways: the
better of the two greedy passes (`budget.best_greedy`), the exact optimum of expected
conversions (`budget.exact_knapsack`) and the ranker's choice (`select_within_budget`: exact,
then the overlap search). Reports expected conversions as shares of the optimum, the overlap-
discounted value, the selection's CPU time and a whole budget-mode brief's CPU time beside the
brute-force cost (one Booster.predict of the filtered catalogue) measured in the same run.
Run: .venv/bin/python benchmarks/bench_budget.py [--briefs 40]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import numpy as np
from bench_ranker import brute_force, make_briefs, timed
from common import figure, record

OUT = Path(__file__).resolve().parent / "out"
BUDGETS = (150.0, 300.0, 500.0, 2000.0)
GOAL_SHARE = 0.99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--influencers", type=int, default=100_000)
    parser.add_argument("--briefs", type=int, default=40)
    parser.add_argument("--top-n", type=int, default=10)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from recommender.briefs import parse_briefs
    from recommender.budget import best_greedy, exact_knapsack, select_within_budget
    from recommender.model import ConversionModel
    from recommender.ranker import Ranker

    art = OUT / f"ranker_w{args.influencers}" / "artifacts"
    if not (art / "snapshot").exists():
        raise SystemExit(f"{art}: missing; run bench_ranker.py first")
    ranker = Ranker(ConversionModel.load(art / "conversion_model"), art / "snapshot")
    briefs = make_briefs(ranker, args.briefs, args.seed)
    greedy_share, final_share, value_gain, select_cpu, brief_cpu, brute_cpu = ([] for _ in
                                                                              range(6))
    candidates, n = [], args.top_n
    load_before = os.getloadavg()[0]
    for i, b in enumerate(briefs):
        budget = BUDGETS[i % len(BUDGETS)]
        timed(lambda b=b, budget=budget: ranker.recommend(b, top_n=n, budget=budget),
              brief_cpu)
        brute_force(ranker, b, n, brute_cpu)
        # the candidates and probabilities the ranker's budget mode works on
        brief = parse_briefs(b, ranker.brand_index, ranker.niches)[0]
        mask = ranker._mask(brief) & ~np.isnan(ranker.price)
        side = ranker.brand_side(brief)
        rows = ranker._shortlist(mask, side.profile, brief, n, priced=True)
        _, _, _, p = ranker.score_rows(rows, side, ranker.as_of)
        price, aud = ranker.price[rows], [a[rows] for a in ranker.audiences]
        candidates.append(len(rows))
        optimum = float(p[exact_knapsack(p, price, budget, n)].sum())
        greedy = best_greedy(p, price, budget, n, aud)
        c = time.process_time()
        final = select_within_budget(p, price, budget, n, aud)
        select_cpu.append(1000 * (time.process_time() - c))
        greedy_share.append(greedy.expected_conversions / optimum)
        final_share.append(final.expected_conversions / optimum)
        value_gain.append(final.objective / greedy.objective)
    load_after = os.getloadavg()[0]

    def pct(values: list[float], q: float) -> float:
        return round(float(np.percentile(values, q)), 2)

    share = pct(brief_cpu, 95) / pct(brute_cpu, 50)
    record("budget", [
        figure("greedy expected conversions / exact optimum (mean)",
               round(float(np.mean(greedy_share)), 4), "share"),
        figure("greedy expected conversions / exact optimum (worst brief)",
               round(float(np.min(greedy_share)), 4), "share"),
        figure("budget mode expected conversions / exact optimum (worst brief)",
               round(float(np.min(final_share)), 4), "share",
               f">= {GOAL_SHARE} on every brief", min(final_share) >= GOAL_SHARE),
        figure("budget mode expected conversions / exact optimum (mean)",
               round(float(np.mean(final_share)), 4), "share"),
        figure("overlap-discounted value, budget mode / greedy (mean)",
               round(float(np.mean(value_gain)), 4), "share"),
        figure("selection CPU time p50", pct(select_cpu, 50), "ms"),
        figure("selection CPU time p95", pct(select_cpu, 95), "ms"),
        figure("budget-mode brief CPU time p95", pct(brief_cpu, 95), "ms"),
        figure("brute force CPU time p50", pct(brute_cpu, 50), "ms"),
        figure("budget-mode brief CPU p95 / brute force CPU p50", round(share, 4), "share",
               "<= 0.03 (same run)", share <= 0.03),
        figure("candidates per brief (mean)", int(np.mean(candidates)), "influencers"),
        figure("load average (1 min) before", round(load_before, 2), "processes"),
        figure("load average (1 min) after", round(load_after, 2), "processes"),
    ], scale=f"{len(ranker.ids)} influencers, {args.briefs} briefs, budgets "
             f"{', '.join(f'${b:,.0f}' for b in BUDGETS)}, top {args.top_n}")


if __name__ == "__main__":
    main()
