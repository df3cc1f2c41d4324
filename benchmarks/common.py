"""Shared by the benchmark scripts: generated worlds, peak memory, machine description,
recording figures."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import resource
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"
OUT = Path(__file__).resolve().parent / "out"


def world_dir(influencers: int, brands: int, seed: int = 7, months: int | None = None,
              story: str = "default") -> Path:
    """The folder under benchmarks/out/ (git-ignored) of the world of these arguments."""
    return OUT / (f"world-{influencers}-{brands}-{seed}"
                  + ("" if months is None else f"-{months}m")
                  + ("" if story == "default" else f"-{story}"))


def ensure_world(influencers: int, brands: int, seed: int = 7, months: int | None = None,
                 story: str = "default") -> Path:
    """The world of these arguments (months None: the generator's default), generated into
    `world_dir` if its posts.parquet or truth_catalogue.parquet is missing. The same
    arguments give the same bytes, so every benchmark shares one folder per world."""
    folder = world_dir(influencers, brands, seed, months, story)
    if not all((folder / f).exists() for f in ("posts.parquet", "truth_catalogue.parquet")):
        from recommender.world import generate_world

        logging.info("generating %s", folder)
        generate_world(folder, n_influencers=influencers, n_brands=brands, seed=seed,
                       story=story, **({} if months is None else {"months": months}))
    return folder


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    VmHWM from /proc where there is one: ru_maxrss of a process started by fork and exec
    also counts its parent's memory at the fork, which overstates a benchmark's child.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {sys.version.split()[0]}"


def figure(name: str, value: float, unit: str, goal: str = "", met: bool | None = None) -> dict:
    """One measured figure; `goal` is the issue's target in words, `met` whether it holds."""
    return {"name": name, "value": value, "unit": unit, "goal": goal, "met": met}


def load_figure() -> dict:
    """The 5-minute load average as a figure: other work on the machine inflates latencies."""
    return figure("load average during the run (5 min)", round(os.getloadavg()[1], 2),
                  "processes")


def record(key: str, figures: list[dict], scale: str = "") -> None:
    """Store the figures of one benchmark in results.json under `key` (other keys kept)."""
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[key] = {
        "figures": figures,
        "scale": scale,
        "machine": machine(),
        "date": dt.date.today().isoformat(),
    }
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(RESULTS)
    for f in figures:
        print(json.dumps({"benchmark": key, **f}))
