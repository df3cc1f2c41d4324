"""Benchmark: wall time and peak memory of generating a 100,000-influencer world."""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from common import figure, peak_memory_mb, record

from recommender.world import generate_world

GOAL_SECONDS = 120.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--influencers", type=int, default=100_000)
    parser.add_argument("--brands", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        paths = generate_world(Path(tmp), n_influencers=args.influencers, n_brands=args.brands,
                               seed=args.seed)
        seconds = time.perf_counter() - start
        rows = {name: pq.ParquetFile(path).metadata.num_rows for name, path in paths.items()}
        megabytes = sum(p.stat().st_size for p in paths.values()) / 1e6

    full_scale = args.influencers >= 100_000
    figures = [
        figure("wall time", round(seconds, 2), "s", f"< {GOAL_SECONDS:.0f} s on 2 cores",
               seconds < GOAL_SECONDS if full_scale else None),
        figure("peak memory", round(peak_memory_mb(), 1), "MB"),
        figure("posts", rows["posts"], "rows"),
        figure("collaborations", rows["collaborations"], "rows"),
        figure("files on disk", round(megabytes, 1), "MB"),
    ]
    record("generate", figures,
           scale=f"{args.influencers} influencers, {args.brands} brands, 18 months")


if __name__ == "__main__":
    main()
