"""Benchmark: the planner page (`recommender ui`, waitress) under concurrent clients: latency
p50/p95/p99 and pages per second of shortlist requests, failures, and one client alone.

Serves the 100,000-influencer ranker saved by bench_ranker.py (benchmarks/out/) on
127.0.0.1 in its own process, then `--clients` clients each ask for the next shortlist
(a known brand, top 10, sometimes a platform) when answered.
Run: .venv/bin/python benchmarks/bench_page_load.py [--requests 200 --clients 4]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
from common import figure, load_figure, record, world_dir

OUT = Path(__file__).resolve().parent / "out"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def burst(url: str, queries: list[str], clients: int) -> tuple[list[float], int, float]:
    """(latencies in s of answered pages, failures, wall seconds)."""
    todo, lock, times, failed = list(queries), threading.Lock(), [], [0]

    def client() -> None:
        while True:
            with lock:
                if not todo:
                    return
                q = todo.pop()
            t = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{url}/?{q}", timeout=120) as resp:
                    ok = resp.status == 200 and 'id="shortlist-title"' in resp.read().decode()
            except OSError:
                ok = False
            with lock:
                if ok:
                    times.append(time.perf_counter() - t)
                else:
                    failed[0] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, failed[0], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--influencers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    model = OUT / f"ranker_w{args.influencers}"
    if not (model / "MLmodel").exists():
        raise SystemExit(f"{model}: missing; run bench_ranker.py first")
    brands = pd.read_parquet(model / "artifacts" / "snapshot" / "brands.parquet")["brand_id"]
    rng = np.random.default_rng(3)
    queries = [f"brand={rng.choice(brands)}&top_n=10"
               + (f"&platform={rng.choice(['instagram', 'tiktok', 'youtube'])}"
                  if rng.random() < 0.3 else "") for _ in range(args.requests + 30)]
    port = free_port()
    data = world_dir(args.influencers, 200, 7)
    log = open(OUT / "page-load.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "recommender.cli", "ui", "--model", str(model), "--port",
         str(port), "--data", str(data)], stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=5).close()
                break
            except OSError:
                time.sleep(1)
        alone, _, _ = burst(url, queries[:30], 1)  # also warms the page up
        times, failed, wall = burst(url, queries[30:], args.clients)
    finally:
        server.terminate()
        server.wait(30)
        log.close()

    def ms(values: list[float], q: float) -> float:
        return round(float(np.percentile(values, q)) * 1000, 1) if values else float("nan")

    record("page_load", [
        figure("page latency p50", ms(times, 50), "ms"),
        figure("page latency p95", ms(times, 95), "ms"),
        figure("page latency p99", ms(times, 99), "ms"),
        figure("one client at a time: page latency p50", ms(alone, 50), "ms"),
        figure("pages per second", round(len(times) / wall, 1), "pages/s"),
        figure("failed pages", failed, "requests", "0", failed == 0),
        load_figure(),
    ], scale=f"{args.influencers} influencers; {args.requests} shortlist pages from "
             f"{args.clients} clients; waitress, 8 threads")


if __name__ == "__main__":
    main()
