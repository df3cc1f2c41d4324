"""Benchmark: the real scoring server (`recommender serve`, MLflow's server) under load from
concurrent clients: p50/p95/p99 latency of good requests, requests per second, and that no
good request failed and every bad one got a 4xx.

Serves the 100,000-influencer ranker saved by bench_ranker.py (benchmarks/out/, built there
if missing) on 127.0.0.1, warms it up, then sends a bounded burst (`--requests`, 20% bad by
default) from `--clients` clients that each send their next request when answered. The
warm-up (40 requests, one client at a time) gives the latency without queueing.
Run: .venv/bin/python benchmarks/bench_serve_load.py [--requests 600 --clients 8 --workers 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from common import RESULTS, figure, load_figure, record

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--influencers", type=int, default=100_000,
                        help="catalogue of the ranker built by bench_ranker.py")
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--bad-share", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--max-seconds", type=float, default=300.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from recommender.loadtest import mixed_requests, ping, run_load, start_server

    model = OUT / f"ranker_w{args.influencers}"
    if not (model / "MLmodel").exists():  # bench_ranker.py builds and saves it
        subprocess.run([sys.executable, str(Path(__file__).with_name("bench_ranker.py")),
                        "--influencers", str(args.influencers), "--briefs", "20"], check=True)
    brands = pd.read_parquet(next(model.rglob("snapshot/brands.parquet")))["brand_id"].tolist()
    server = start_server(str(model), OUT / "serve-load.log",
                          extra_args=["--workers", str(args.workers)])
    try:
        alone = run_load(server.url, mixed_requests(brands, 40, bad_share=0.0, seed=1),
                         clients=1)  # also warms the server up
        burst = run_load(server.url, mixed_requests(brands, args.requests, args.bad_share,
                                                    seed=7),
                         clients=args.clients, max_seconds=args.max_seconds)
        alive = server.process.poll() is None and ping(server.url)
    finally:
        server.stop()
    good = sum(o.request.good for o in burst.outcomes)
    failed, not_4xx = len(burst.failed_good), len(burst.bad_not_4xx)
    # what the in-process CPU cost per brief allows on this machine's cores (bench_ranker)
    ranker = json.loads(RESULTS.read_text()).get("ranker", {}) if RESULTS.exists() else {}
    cpu_ms = next((f["value"] for f in ranker.get("figures", [])
                   if f["name"] == "fast path CPU time p50"), None)
    allowed = (os.cpu_count() or 1) * 1000.0 / cpu_ms if cpu_ms else float("nan")
    good_rate = good / burst.wall_seconds if burst.wall_seconds else float("nan")
    record("serve_load", [
        figure("good requests: latency p50", round(burst.latency_ms(50), 1), "ms"),
        figure("good requests: latency p95", round(burst.latency_ms(95), 1), "ms"),
        figure("good requests: latency p99", round(burst.latency_ms(99), 1), "ms"),
        figure("one client at a time: latency p50", round(alone.latency_ms(50), 1), "ms"),
        figure("one client at a time: latency p95", round(alone.latency_ms(95), 1), "ms"),
        figure("requests per second (good and bad)", round(burst.requests_per_second, 1),
               "req/s"),
        figure("good requests per second", round(good_rate, 1), "req/s",
               f">= 60% of {allowed:.0f} req/s ({os.cpu_count()} cores / {cpu_ms} ms of CPU "
               "per brief in-process)", good_rate >= 0.6 * allowed if cpu_ms else None),
        figure("requests sent", len(burst.outcomes), "requests",
               f"all {args.requests}, stopping by itself", not burst.stopped_early),
        figure("failed good requests", failed, "requests", "0", failed == 0),
        figure("bad requests not answered with a 4xx", not_4xx, "requests", "0", not_4xx == 0),
        figure("server alive after the burst", int(alive), "flag", "1", alive),
        load_figure(),
    ], scale=f"{len(brands)} brands, {args.influencers} influencers; {args.requests} requests "
             f"({good} good) from {args.clients} clients; {args.workers} server worker(s)")


if __name__ == "__main__":
    main()
