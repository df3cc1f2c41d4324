"""Benchmark: model quality per generated world (seeds x stories), on the collaborations after
the cut and on the whole catalogue, beside the heuristic, the informed learner and random.

Per world (generated into benchmarks/out/ once; no MLflow; the time split and the model of
`recommender train`):
- test collaborations: AUC, ECE, share of the oracle's lift of the model and of the informed
  learner (ceiling.py), and the model's share as a fraction of the informed learner's;
- validation window: AUC and log loss of the uncalibrated model (what defaults are chosen on);
- catalogue (truth_catalogue.parquet: every micro-influencer for 25 sample brands, gains =
  true probability): NDCG@10 and @50 of the model through the ranker (first stage +
  model), of brute force (every candidate through the model), of the heuristic, of the
  informed learner and of random; the model's NDCG lift over random as a share of the
  informed learner's;
- the ranker's top-10 against brute force's (recall) on the sample brands, on inline new
  brands, on a rare category and on narrow audience targets.
Summary figures (means over worlds and the worst world) carry the issue's goals.
Run: .venv/bin/python benchmarks/bench_quality.py [--seeds 7 1 2] [--stories default reach niche]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from ceiling import (
    informed_catalogue_features,
    informed_features,
    informed_learner_scores,
)
from common import ensure_world, figure, record

CATALOGUE_KS = (10, 50)
GOALS = {"heuristic_margin": 0.02, "informed_share": 0.95, "ece": 0.03, "recall": 0.95}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--influencers", type=int, default=3_000)
    parser.add_argument("--brands", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 1, 2])
    parser.add_argument("--stories", nargs="+", default=["default", "reach", "niche"])
    parser.add_argument("--params", default="{}",
                        help="JSON of LightGBM parameters over the defaults (experiments); "
                        '"monotone_constraints": "domain" is features.MONOTONE_INCREASING, '
                        '"none" no constraint')
    parser.add_argument("--entity-effects", action="store_true",
                        help="also measure empirical-Bayes entity effects (entity_effects.py)")
    parser.add_argument("--no-record", action="store_true",
                        help="print the figures, leave results.json alone (experiments)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    params = json.loads(args.params)
    if params.get("monotone_constraints") in ("domain", "none"):
        from recommender.features import MONOTONE_INCREASING

        params["monotone_constraints"] = ({f: 1 for f in MONOTONE_INCREASING}
                                          if params["monotone_constraints"] == "domain" else {})

    worlds = []
    for story in args.stories:
        for seed in args.seeds:
            t = time.perf_counter()
            m = measure(ensure_world(args.influencers, args.brands, seed, story=story), params,
                        args.entity_effects)
            m |= {"story": story, "seed": seed, "seconds": time.perf_counter() - t}
            worlds.append(m)
            print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v)
                              for k, v in m.items()}), flush=True)
    table = pd.DataFrame(worlds)
    figures = [f for m in worlds for f in world_figures(m)] + summary_figures(table)
    if args.no_record:
        for f in summary_figures(table):
            print(json.dumps(f))
        return
    record("quality", figures, scale=f"{args.influencers} influencers, {args.brands} brands, "
           f"18 months; seeds {' '.join(map(str, args.seeds))} x stories "
           f"{' '.join(args.stories)}; model params {json.dumps(params) if params else 'default'}")


def measure(world: Path, params: dict, entity_effects: bool = False) -> dict[str, float]:
    """Every figure of one world."""
    from recommender.catalogue import catalogue_features, read_catalogue_truth
    from recommender.evaluation import evaluate_window
    from recommender.metrics import auc, log_loss
    from recommender.train import fit, prepare

    data = prepare(world)
    model = fit(data, params=params or None, seed=7)
    m = evaluate_window(model, data.train, data.test, data.truth).metrics
    raw_valid = model.predict_raw(data.valid[model.features_])
    out = {"collaborations": float(len(data.rows)), "auc": m["auc"], "ece": m["ece"],
           "oracle_ece": m["oracle_ece"], "test_rows": m["test_rows"],
           "oracle_auc": m["oracle_auc"], "share": m["oracle_lift_share"],
           "valid_auc": auc(data.valid["converted"], raw_valid),
           "valid_log_loss": log_loss(data.valid["converted"], raw_valid)}
    rows, features = informed_features(data.rows, data.truth)
    train, _, test = data.split.split(rows)
    truth = read_catalogue_truth(world)
    cat = informed_catalogue_features(data.rows, data.truth, truth)
    informed_test, informed_cat = informed_learner_scores(train, [test, cat], features)
    out["informed_share"] = (auc(test["converted"], informed_test) - 0.5) / (
        out["oracle_auc"] - 0.5)
    out["share_of_informed"] = out["share"] / out["informed_share"]
    feats = catalogue_features(data.ds, truth)
    out |= catalogue_figures(data, model, truth, feats, informed_cat)
    if entity_effects:
        from entity_effects import entity_effect_figures

        out |= entity_effect_figures(data, model, params, feats, truth, out["oracle_auc"])
    return out


def catalogue_figures(data, model, truth: pd.DataFrame, feats: pd.DataFrame,
                      informed: np.ndarray) -> dict[str, float]:
    """Catalogue NDCG of every scorer and the ranker's top-10 recall against brute force."""
    from recommender.baselines import heuristic_score, random_score
    from recommender.catalogue import catalogue_ndcg
    from recommender.ranker import Ranker
    from recommender.snapshot import build_snapshot

    as_of = truth["as_of"].iloc[0]
    with tempfile.TemporaryDirectory() as tmp:
        ranker = Ranker(model, build_snapshot(data.ds, model, as_of, out_dir=Path(tmp) / "s"))
    top = max(CATALOGUE_KS)
    brands = truth["brand_id"].unique()
    listed = {mode: {b: ranker.recommend({"brand_id": b}, top_n=top, exhaustive=mode)
                     ["influencer_id"].tolist() for b in brands} for mode in (False, True)}
    scores = {"ranker": _rank_score(truth, listed[False]),
              "brute_force": _rank_score(truth, listed[True]),
              "heuristic": heuristic_score(data.train, feats),
              "informed": informed, "random": random_score(data.train, feats, seed=0)}
    out = {f"cat_{name}_ndcg_{k}": catalogue_ndcg(truth, s, k)
           for name, s in scores.items() for k in CATALOGUE_KS}
    for k in CATALOGUE_KS:
        lift = out[f"cat_informed_ndcg_{k}"] - out[f"cat_random_ndcg_{k}"]
        out[f"cat_share_of_informed_{k}"] = (
            out[f"cat_ranker_ndcg_{k}"] - out[f"cat_random_ndcg_{k}"]) / lift
    out["recall_brands"] = _recall({b: v[:10] for b, v in listed[False].items()},
                                   {b: v[:10] for b, v in listed[True].items()})
    for name, briefs in _hard_briefs(data.ds, brands).items():
        out[f"recall_{name}"] = _recall(
            {i: ranker.recommend(b, top_n=10)["influencer_id"].tolist()
             for i, b in enumerate(briefs)},
            {i: ranker.recommend(b, top_n=10, exhaustive=True)["influencer_id"].tolist()
             for i, b in enumerate(briefs)})
    return out


def _rank_score(truth: pd.DataFrame, listed: dict[str, list[str]]) -> np.ndarray:
    """A score per catalogue row from ranked lists: higher for a better rank, -1 unlisted."""
    rank = {(b, i): len(ids) - r for b, ids in listed.items() for r, i in enumerate(ids)}
    keys = zip(truth["brand_id"], truth["influencer_id"], strict=True)
    return np.array([rank.get(k, -1) for k in keys], dtype=float)


def _recall(fast: dict, brute: dict) -> float:
    """Mean share of brute force's top-10 that the ranker also lists."""
    return float(np.mean([len(set(fast[k]) & set(v)) / len(v) for k, v in brute.items() if v]))


def _hard_briefs(ds, brands: np.ndarray) -> dict[str, list[dict]]:
    """Briefs the first stage may find hard: brands described inline (the sample brands'
    category and age/gender targets, no id), the rarest brand category, narrow targets."""
    aud = ds.brand_audience

    def target(brand: str, dim: str) -> dict[str, float]:
        rows = aud[(aud["brand_id"] == brand) & (aud["dimension"] == dim)]
        return dict(zip(rows["segment"], rows["share"].astype(float), strict=True))

    category = ds.brands.set_index("brand_id")["category"]
    inline = [{"category": category[b], "target_age": target(b, "age"),
               "target_gender": target(b, "gender")} for b in brands[:10]]
    rare = ds.brands["category"].value_counts(ascending=True).index[0]
    rare_briefs = [{"category": rare}, {"category": rare, "target_gender": {"male": 1.0}}]
    narrow = [{"category": c, **t} for c in ds.brands["category"].value_counts().index[:3]
              for t in ({"target_age": {"55+": 1.0}}, {"target_country": {"AU": 1.0}},
                        {"target_age": {"13-17": 0.7, "18-24": 0.3}, "target_gender":
                         {"male": 1.0}})]
    return {"inline": inline, "rare_category": rare_briefs, "narrow_target": narrow}


def world_figures(m: dict) -> list[dict]:
    """The figures of one world, named by its story and seed."""
    w = f"{m['story']} seed {m['seed']}"
    margin = m["cat_ranker_ndcg_10"] - m["cat_heuristic_ndcg_10"]
    figs = [
        figure(f"{w}: test AUC (oracle {m['oracle_auc']:.3f})", round(m["auc"], 4), "AUC"),
        figure(f"{w}: share of the oracle's lift (informed learner {m['informed_share']:.3f})",
               round(m["share"], 3), "share"),
        figure(f"{w}: share of the oracle's lift / informed learner's",
               round(m["share_of_informed"], 3), "ratio", f">= {GOALS['informed_share']}",
               bool(m["share_of_informed"] >= GOALS["informed_share"])),
        figure(f"{w}: expected calibration error (oracle's, the noise floor of "
               f"{int(m['test_rows'])} test rows: {m['oracle_ece']:.4f})", round(m["ece"], 4),
               "ECE", f"<= {GOALS['ece']}", bool(m["ece"] <= GOALS["ece"])),
        figure(f"{w}: validation AUC / log loss (uncalibrated)", round(m["valid_auc"], 4),
               "AUC", f"log loss {m['valid_log_loss']:.4f}"),
    ]
    for k in CATALOGUE_KS:
        figs.append(figure(
            f"{w}: catalogue NDCG@{k} via ranker (brute force {m[f'cat_brute_force_ndcg_{k}']:.3f}"
            f", heuristic {m[f'cat_heuristic_ndcg_{k}']:.3f}, informed "
            f"{m[f'cat_informed_ndcg_{k}']:.3f}, random {m[f'cat_random_ndcg_{k}']:.3f})",
            round(m[f"cat_ranker_ndcg_{k}"], 4), "NDCG",
            *((f">= heuristic + {GOALS['heuristic_margin']}",
               bool(margin >= GOALS["heuristic_margin"])) if k == 10 else ())))
        figs.append(figure(f"{w}: catalogue NDCG@{k} lift over random / informed learner's",
                           round(m[f"cat_share_of_informed_{k}"], 3), "ratio",
                           *((f">= {GOALS['informed_share']}",
                              bool(m[f"cat_share_of_informed_{k}"] >= GOALS["informed_share"]))
                             if k == 10 else ())))
    for name in ("brands", "inline", "rare_category", "narrow_target"):
        figs.append(figure(f"{w}: ranker top-10 recall of brute force, {name.replace('_', ' ')}",
                           round(m[f"recall_{name}"], 3), "recall",
                           f">= {GOALS['recall']}", bool(m[f"recall_{name}"] >= GOALS["recall"])))
    return figs


def summary_figures(t: pd.DataFrame) -> list[dict]:
    """Means over the worlds (what defaults are chosen on: validation) and goals' worst case."""
    margin = t["cat_ranker_ndcg_10"] - t["cat_heuristic_ndcg_10"]
    recall = t[[c for c in t.columns if c.startswith("recall_")]].min(axis=1)
    return [
        figure("mean over worlds: validation log loss (uncalibrated)",
               round(float(t["valid_log_loss"].mean()), 5), "log loss"),
        figure("mean over worlds: validation AUC", round(float(t["valid_auc"].mean()), 4), "AUC"),
        figure("mean over worlds: catalogue NDCG@10 via ranker (heuristic "
               f"{t['cat_heuristic_ndcg_10'].mean():.4f}, informed "
               f"{t['cat_informed_ndcg_10'].mean():.4f})",
               round(float(t["cat_ranker_ndcg_10"].mean()), 4), "NDCG"),
        figure("worst world: catalogue NDCG@10 via ranker - heuristic", round(float(
            margin.min()), 4), "NDCG", f">= {GOALS['heuristic_margin']}",
            bool(margin.min() >= GOALS["heuristic_margin"])),
        figure("worst world: catalogue NDCG@10 lift / informed learner's", round(float(
            t["cat_share_of_informed_10"].min()), 3), "ratio", f">= {GOALS['informed_share']}",
            bool(t["cat_share_of_informed_10"].min() >= GOALS["informed_share"])),
        figure("worst world: share of the oracle's lift / informed learner's", round(float(
            t["share_of_informed"].min()), 3), "ratio", f">= {GOALS['informed_share']}",
            bool(t["share_of_informed"].min() >= GOALS["informed_share"])),
        figure("worst world: expected calibration error", round(float(t["ece"].max()), 4),
               "ECE", f"<= {GOALS['ece']}", bool(t["ece"].max() <= GOALS["ece"])),
        figure("worst world: ranker top-10 recall of brute force (worst brief set)",
               round(float(recall.min()), 3), "recall", f">= {GOALS['recall']}",
               bool(recall.min() >= GOALS["recall"])),
        figure("wall time per world", round(float(t["seconds"].mean()), 1), "s"),
    ]


if __name__ == "__main__":
    main()
