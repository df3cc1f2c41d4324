"""Feedback as a second label against the truth: one command for the issue's figures.

Generates a world with simulated planners (recommender.world.planners), trains the
conversion model, then the planners' preference model with and without the position
correction (recommender.preference.fit_feedback), and measures on the held-out briefs (the
last 20% of the feedback in time): the Spearman correlation of each model's score with the
hidden taste over the briefs' candidate pools, and the expected top-10 acceptance rate (the
true P(accept) at the new rank) of the pools re-ranked by conversion probability alone, by
the blend, and by the hidden taste itself (the ceiling).
Run: .venv/bin/python benchmarks/bench_feedback.py --influencers 5000 --brands 200 --briefs 1000
"""

from __future__ import annotations

import argparse
import logging
import time

import pandas as pd
from common import OUT, ensure_world, figure, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--influencers", type=int, default=5000)
    parser.add_argument("--brands", type=int, default=200)
    parser.add_argument("--briefs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import shutil

    from recommender.preference import SHARES, fit_feedback, load_events
    from recommender.train import fit, prepare
    from recommender.world.planners import (
        FEEDBACK_FILE,
        TRUTH_FILE,
        evaluate_against_truth,
        write_planner_feedback,
    )

    folder = OUT / f"planners-{args.influencers}-{args.brands}-{args.seed}-{args.briefs}"
    if not (folder / FEEDBACK_FILE).exists():
        shutil.copytree(ensure_world(args.influencers, args.brands, args.seed), folder,
                        dirs_exist_ok=True)
        write_planner_feedback(folder, args.briefs, seed=args.seed)
    data = prepare(folder)
    conversion = fit(data, seed=args.seed)
    events = load_events(folder / FEEDBACK_FILE)
    t = time.perf_counter()
    result = fit_feedback(data.ds, events, conversion)
    fit_s = time.perf_counter() - t
    after = events["at"].iloc[int(len(events) * (SHARES[0] + SHARES[1]))]
    truth = evaluate_against_truth(data.ds, pd.read_parquet(folder / TRUTH_FILE), result,
                                   conversion, after)
    m = result.metrics
    sc, su = truth["taste_spearman_corrected"], truth["taste_spearman_uncorrected"]
    ab, ac = truth["top10_acceptance_blend"], truth["top10_acceptance_conversion"]
    figures = [
        figure("hidden taste recovered (Spearman), position-corrected", round(sc, 3), "rho",
               "> uncorrected", sc > su),
        figure("hidden taste recovered (Spearman), uncorrected", round(su, 3), "rho"),
        figure("top-10 acceptance on held-out briefs, blended", round(ab, 3), "share",
               "> conversion probability alone", ab > ac),
        figure("top-10 acceptance on held-out briefs, conversion alone", round(ac, 3), "share"),
        figure("top-10 acceptance on held-out briefs, by the hidden taste (ceiling)",
               round(truth["top10_acceptance_taste"], 3), "share"),
        figure("blend weight chosen (middle window)", m["feedback_blend_weight_chosen"],
               "x preference logit"),
        figure("blended (gate on the last window, no truth)", m["feedback_blended"], "yes=1"),
        figure("position-stratified AUC on the last window, blended",
               round(m["feedback_auc_blend_test"], 3), "AUC"),
        figure("position-stratified AUC on the last window, conversion alone",
               round(m["feedback_auc_conversion_test"], 3), "AUC"),
        figure("held-out briefs", truth["briefs_held_out"], "briefs"),
        figure("feedback events", m["feedback_events"], "events"),
        figure("preference fit + evaluation time", round(fit_s, 1), "s"),
    ]
    record("feedback", figures, scale=f"{args.influencers} influencers, {args.brands} brands, "
           f"{args.briefs} briefs of 10 shown rows, seed {args.seed}")


if __name__ == "__main__":
    main()
