"""Benchmark: the Dask engine against the local one on the same 1,000,000 pairs (issue 6).

Uses the world, model and pairs file of bench_batch.py (benchmarks/out/, generated if
missing). Scores the pairs with the local engine and with `--engine dask --workers N` (a
LocalCluster of N one-thread worker processes started by the job), checks the two files are
byte-identical and records both wall times (the Dask one includes starting the cluster and
sending the data to every worker). On a 2-core machine the local engine already uses both
cores (compiled inference runs on every core), so Dask is expected to cost, not gain, here:
it is for clusters of several machines.
Run: .venv/bin/python benchmarks/bench_dask.py [--workers 2]
"""

from __future__ import annotations

import argparse
import logging
import os

from bench_batch import CHUNK, OUT, ensure_inputs, pairs_file
from common import figure, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("RECOMMENDER_CACHE", str(OUT / "cache"))
    from recommender.batch import score_pairs

    world, model_dir = ensure_inputs()
    pairs = pairs_file(world, args.pairs)
    common = {"model_uri": str(model_dir), "data_dir": world, "chunk_size": CHUNK}
    local = score_pairs(pairs, OUT / "dask-bench-local.parquet", **common)
    dask = score_pairs(pairs, OUT / "dask-bench-dask.parquet", engine="dask",
                       workers=args.workers, **common)
    same = ((OUT / "dask-bench-local.parquet").read_bytes()
            == (OUT / "dask-bench-dask.parquet").read_bytes())
    record("batch_dask", [
        figure("local engine wall time", local.seconds, "s"),
        figure(f"dask engine wall time ({args.workers} local workers)", dask.seconds, "s"),
        figure("dask / local wall time", dask.seconds / local.seconds, "ratio"),
        figure("outputs byte-identical", float(same), "flag", goal="1", met=same),
    ], scale=f"{args.pairs:,} pairs, chunks of {CHUNK:,}, {args.workers} workers")


if __name__ == "__main__":
    main()
