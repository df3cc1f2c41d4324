"""Benchmark: ranker latency in-process on a 100,000-influencer catalogue (or `--copies` of it:
10 make 1,000,000), fast path (filters, first stage, shortlist through the model, reasons)
against the brute-force cost (one Booster.predict of every filtered candidate), and the
top-10 agreement of the two, measured interleaved in the same run over the same briefs."""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import ensure_world, figure, peak_memory_mb, record

OUT = Path(__file__).resolve().parent / "out"
GOAL_SHARE = 0.03  # fast path p95 as a share of the brute force's cost, same run
GOAL_RECALL = 0.95


def build(model_dir: Path, influencers: int, seed: int) -> None:
    """Generate the world if absent, train a model with default settings, save the ranker."""
    from recommender.pyfunc import save_ranker
    from recommender.train import fit, prepare

    world = ensure_world(influencers, 200, seed)
    t = time.perf_counter()
    data = prepare(world)
    logging.info("loaded and split %s in %.1f s", world, time.perf_counter() - t)
    model = fit(data)
    t = time.perf_counter()
    save_ranker(model, data.ds, model_dir)
    logging.info("saved the ranker in %.1f s", time.perf_counter() - t)


def make_briefs(ranker, n: int, seed: int) -> list[pd.DataFrame]:
    """n one-brief tables: 3 in 4 name a known brand, 1 in 4 describe a brand inline; all
    with the default follower filter (1,000 to 100,000)."""
    rng = np.random.default_rng(seed)
    brands = ranker.snapshot.ds.brands
    ages = ["18-24", "25-34", "35-44"]
    out = []
    for i in range(n):
        if i % 4 < 3:
            out.append(pd.DataFrame([{"brand_id": str(rng.choice(brands["brand_id"]))}]))
        else:
            share = float(rng.uniform(0.3, 0.8))
            age = rng.choice(ages, 2, replace=False)
            out.append(pd.DataFrame([{
                "category": str(rng.choice(sorted(brands["category"].unique()))),
                "target_age": {str(age[0]): share, str(age[1]): 1 - share},
                "target_gender": {"female": 0.5, "male": 0.5}}]))
    return out


def timed(fn, cpu: list[float] | None = None) -> tuple[float, pd.DataFrame]:
    """Wall time of fn() in ms (and its CPU time appended to `cpu`, if given)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    if cpu is not None:
        cpu.append(1000 * (time.process_time() - c))
    return 1000 * (time.perf_counter() - t), out


def tiled(snap, copies: int):
    """The snapshot with its catalogue repeated `copies` times (ids suffixed ~k): a larger
    catalogue of the same influencers, for the scale benchmark. Only the originals keep
    their collaborations."""
    import dataclasses

    if copies == 1:
        return snap

    def tile(frame: pd.DataFrame) -> pd.DataFrame:
        parts = [frame.assign(influencer_id=frame["influencer_id"].astype(str) + f"~{k}")
                 if k else frame for k in range(copies)]
        return pd.concat(parts, ignore_index=True)

    ds = dataclasses.replace(snap.ds, influencers=tile(snap.ds.influencers),
                             audience=tile(snap.ds.audience))
    return dataclasses.replace(snap, ds=ds, influencer_side=tile(snap.influencer_side))


def brute_force(ranker, brief_frame: pd.DataFrame, top_n: int, cpu: list[float]
                ) -> tuple[float, set[str], int]:
    """The brute-force cost: one Booster.predict (one thread) of every filtered candidate's
    feature rows (encoded beforehand, not timed); its wall ms, its top-n ids, candidates."""
    from recommender.briefs import parse_briefs
    from recommender.model import apply_calibration

    brief = parse_briefs(brief_frame, ranker.brand_index, ranker.niches)[0]
    rows = ranker.candidates(brief)
    M = ranker.encoded.rows(rows, ranker.brand_side(brief))
    ms, raw = timed(lambda: ranker.model.booster_.predict(M, num_threads=1), cpu)
    p = apply_calibration(ranker.model.calibration_, raw)
    top = rows[np.lexsort((rows, -raw, -p))[:top_n]]
    return ms, set(ranker.ids[top]), len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--influencers", type=int, default=100_000)
    parser.add_argument("--copies", type=int, default=1,
                        help="repeat the catalogue this many times (10: a 1,000,000 catalogue "
                        "from the 100,000 one)")
    parser.add_argument("--briefs", type=int, default=200)
    parser.add_argument("--brute-briefs", type=int, default=None,
                        help="of which this many also through brute force (default: all)")
    parser.add_argument("--top-n", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true", help="retrain and re-save the ranker")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from recommender.model import ConversionModel
    from recommender.ranker import Ranker
    from recommender.snapshot import load_snapshot

    model_dir = OUT / f"ranker_w{args.influencers}"
    if args.rebuild or not (model_dir / "MLmodel").exists():
        if model_dir.exists():
            import shutil

            shutil.rmtree(model_dir)
        build(model_dir, args.influencers, args.seed)
    # this code's Ranker over the saved ranker's artifacts (the code pyfunc predict runs)
    art = model_dir / "artifacts"
    load_ms, ranker = timed(lambda: Ranker(ConversionModel.load(art / "conversion_model"),
                                           tiled(load_snapshot(art / "snapshot"), args.copies)))
    briefs = make_briefs(ranker, args.briefs, args.seed)
    n_brute = len(briefs) if args.brute_briefs is None else args.brute_briefs
    for b in briefs[:5]:  # warm-up
        ranker.recommend(b, top_n=args.top_n)
    fast_ms, fast_cpu, brute_ms, brute_cpu, recalls, filtered = [], [], [], [], [], []
    load_before = os.getloadavg()[0]  # other work on the machine inflates every latency
    for i, b in enumerate(briefs):  # interleaved: both paths see the same machine state
        ms, fast = timed(lambda b=b: ranker.recommend(b, top_n=args.top_n), fast_cpu)
        fast_ms.append(ms)
        if i < n_brute:
            ms, top, n = brute_force(ranker, b, args.top_n, brute_cpu)
            brute_ms.append(ms)
            filtered.append(n)
            recalls.append(len(top & set(fast["influencer_id"])) / max(len(top), 1))
    load_after = os.getloadavg()[0]

    def pct(values: list[float], q: float) -> float:
        return round(float(np.percentile(values, q)), 1)

    recall = float(np.mean(recalls))
    share_cpu = pct(fast_cpu, 95) / pct(brute_cpu, 50)
    share_wall = pct(fast_ms, 95) / pct(brute_ms, 50)
    fit = ranker.snapshot.meta["first_stage_fit"]
    figures = [
        figure("fast path p50", pct(fast_ms, 50), "ms"),
        figure("fast path p95", pct(fast_ms, 95), "ms"),
        figure("fast path CPU time p50", pct(fast_cpu, 50), "ms"),
        figure("fast path CPU time p95", pct(fast_cpu, 95), "ms",
               "what a request costs when it has a core to itself"),
        figure("brute force (one Booster.predict of the filtered catalogue) p50",
               pct(brute_ms, 50), "ms"),
        figure("brute force CPU time p50", pct(brute_cpu, 50), "ms"),
        figure("fast path CPU p95 / brute force CPU p50", round(share_cpu, 4), "share",
               f"<= {GOAL_SHARE} (same run)", share_cpu <= GOAL_SHARE),
        figure("fast path wall p95 / brute force wall p50", round(share_wall, 4), "share"),
        figure(f"top-{args.top_n} recall vs brute force", round(recall, 4), "share",
               f">= {GOAL_RECALL} over {len(recalls)} briefs", recall >= GOAL_RECALL),
        figure(f"worst brief top-{args.top_n} recall", round(float(np.min(recalls)), 2),
               "share"),
        figure("filtered candidates per brief (mean)", int(np.mean(filtered)), "influencers"),
        figure("shortlist size", ranker.shortlist_size, "influencers"),
        figure("tree inference of the shortlist", ranker.trees.backend, ""),
        figure("first-stage R^2 within brands", round(fit["r2_within_brand"], 3), "share"),
        figure("ranker load time", round(load_ms / 1000, 2), "s"),
        figure("peak memory", round(peak_memory_mb(), 1), "MB"),
        figure("load average (1 min) before the timed briefs", round(load_before, 2),
               "processes"),
        figure("load average (1 min) after the timed briefs", round(load_after, 2),
               "processes"),
    ]
    key = "ranker" if args.copies == 1 else f"ranker_x{args.copies}"
    record(key, figures, scale=f"{len(ranker.ids)} influencers"
           + (f" ({args.copies} copies of {args.influencers})" if args.copies > 1 else "")
           + f", {args.briefs} briefs ({len(recalls)} also by brute force), top {args.top_n}, "
           f"{ranker.model.best_iteration_} trees")


if __name__ == "__main__":
    main()
