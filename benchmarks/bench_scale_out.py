"""Benchmark: the nightly job on a cluster of separate processes against the local engine.

Generates a world with `recommender generate --parts N` (posts and audience as folders of
Parquet parts; the generator's own peak memory is recorded), a model trained on a small
world (only its scores matter here), then runs `recommender score --all-brands` twice as
CLI processes: with the local engine, and with `--engine dask --scheduler ADDRESS` against
a `dask scheduler` and `dask worker --no-nanny --memory-limit M` processes started for the
run. Peak memory of every process is its own maximum resident set (GNU time's %M), wall
times are the CLI's. Checks the two output files are byte-identical.
Run (niced: the machine is shared): nice -n 10 .venv/bin/python benchmarks/bench_scale_out.py
    [--influencers 50000 --parts 10 --workers 2 --worker-memory 2GB --top-k 50]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

from common import OUT, ensure_world, figure, record

BIN = Path(sys.executable).parent
TIME = "/usr/bin/time"


def measured(cmd: list[str], log: Path, **kw) -> subprocess.Popen:
    """`cmd` under GNU time, which writes 'peak-KB wall-s' to `log` when it ends."""
    return subprocess.Popen([TIME, "-f", "%M %e", "-o", str(log), *cmd], **kw)


def peak_and_wall(log: Path) -> tuple[float, float]:
    kb, seconds = log.read_text().split()[-2:]
    return int(kb) / 1024.0, float(seconds)


def run(cmd: list[str], log: Path) -> tuple[float, float]:
    p = measured(cmd, log)
    if p.wait() != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return peak_and_wall(log)


def small_model() -> Path:
    folder = OUT / "scale-out-model"
    if not (folder / "booster.txt").exists():
        from recommender.train import fit, prepare

        fit(prepare(ensure_world(5000, 200)), seed=7).save(folder)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--influencers", type=int, default=50_000)
    parser.add_argument("--brands", type=int, default=200)
    parser.add_argument("--parts", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="2GB")
    parser.add_argument("--top-k", type=int, default=50)
    args = parser.parse_args()
    os.environ.setdefault("RECOMMENDER_CACHE", str(OUT / "cache"))
    run_dir = OUT / f"scale-out-{args.influencers}-{args.parts}"
    run_dir.mkdir(parents=True, exist_ok=True)
    world = OUT / f"world-parts-{args.influencers}-{args.brands}-{args.parts}"
    figures = []
    if not (world / "posts").is_dir():
        peak, wall = run([str(BIN / "recommender"), "generate", "--out", str(world),
                          "--influencers", str(args.influencers), "--brands", str(args.brands),
                          "--parts", str(args.parts)], run_dir / "generate.time")
        figures += [figure("generate --parts: wall time", wall, "s"),
                    figure("generate --parts: peak memory", peak, "MB")]
    model = small_model()
    score = [str(BIN / "recommender"), "score", "--all-brands", "--top-k", str(args.top_k),
             "--model", str(model), "--data", str(world)]
    local_peak, local_wall = run([*score, "--out", str(run_dir / "local.parquet")],
                                 run_dir / "local.time")
    address = f"tcp://127.0.0.1:{free_port()}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1",
                                  "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
                                 **quiet)
    workers = [measured([str(BIN / "dask"), "worker", address, "--no-nanny", "--nthreads", "1",
                         "--memory-limit", args.worker_memory, "--no-dashboard"],
                        run_dir / f"worker-{i}.time", **quiet) for i in range(args.workers)]
    try:
        from distributed import Client

        with Client(address, timeout="60s") as c:
            c.wait_for_workers(args.workers, timeout=120)
        dask_peak, dask_wall = run([*score, "--out", str(run_dir / "dask.parquet"), "--engine",
                                    "dask", "--scheduler", address], run_dir / "dask.time")
    finally:
        for p in [*workers, scheduler]:
            p.terminate()
        for p in [*workers, scheduler]:
            p.wait(timeout=60)
    worker_peaks = [peak_and_wall(run_dir / f"worker-{i}.time")[0] for i in range(args.workers)]
    same = (run_dir / "local.parquet").read_bytes() == (run_dir / "dask.parquet").read_bytes()
    figures += [
        figure("score --all-brands, local engine: wall time", local_wall, "s"),
        figure("score --all-brands, local engine: peak memory", local_peak, "MB"),
        figure("score --all-brands, dask engine: wall time (CLI)", dask_wall, "s"),
        figure("score --all-brands, dask engine: CLI peak memory", dask_peak, "MB"),
        figure("dask engine CLI peak / local engine peak", dask_peak / local_peak, "ratio",
               "< 1/3", dask_peak / local_peak < 1 / 3),
        figure("largest worker peak memory", max(worker_peaks), "MB",
               f"within --memory-limit {args.worker_memory}"),
        figure("outputs byte-identical", float(same), "flag", "1", same),
    ]
    record("scale_out", figures, scale=f"{args.influencers:,} influencers, {args.brands} "
           f"brands, posts in {args.parts} parts, top {args.top_k}, {args.workers} workers "
           f"of {args.worker_memory}")


if __name__ == "__main__":
    main()
