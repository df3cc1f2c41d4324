"""`make bench`: run every benchmarks/bench_*.py at its stated scale, then write the table in
docs/benchmarks.md from benchmarks/results.json.

Each script runs in its own process and records its figures in results.json (common.record);
a script that fails is reported and the others still run. The whole run is timed: it must
finish in under 30 minutes on 2 cores (inputs cached in benchmarks/out/ make reruns faster).
Benchmarks are not tests: CI does not run them.
Run: .venv/bin/python benchmarks/run_all.py [--only train serve_load] [--render-only]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import RESULTS, figure, record

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "benchmarks.md"
GOAL_MINUTES = 30.0
# The stated scale of each benchmark (script name without bench_ and .py -> its arguments),
# in the order they run: the serving benchmark serves the ranker bench_ranker saves, rebuilt
# each time so that both measure the current code (a saved model carries its own code).
SCALES: dict[str, list[str]] = {
    "generate": ["--influencers", "100000", "--brands", "200"],
    "features": ["--influencers", "100000", "--brands", "200", "--pairs", "1000000",
                 "--repeats", "1"],
    "train": ["--influencers", "5000", "--brands", "200"],
    "quality": ["--influencers", "5000", "--brands", "200", "--seeds", "7", "1", "2",
                "--curve-brands", "100", "400", "800"],
    "ranker": ["--influencers", "100000", "--briefs", "100", "--top-n", "10", "--rebuild"],
    "lookalike": ["--influencers", "100000", "--briefs", "100", "--seeds", "100"],
    "ranker_1m": ["--influencers", "100000", "--copies", "10", "--briefs", "40",
                  "--brute-briefs", "10", "--top-n", "10"],
    "budget": ["--influencers", "100000", "--briefs", "40"],
    "serve_load": ["--influencers", "100000", "--requests", "600", "--clients", "8",
                   "--workers", "2"],
    "page_load": ["--influencers", "100000", "--requests", "200", "--clients", "4"],
    "batch": ["--memory-pairs", "10000000"],
    "dask": ["--pairs", "1000000", "--workers", "2"],
    "feedback": ["--influencers", "5000", "--brands", "200", "--briefs", "1000"],
}
TIMEOUT_S = 20 * 60
# results.json keys whose sections come first in the document, in this order
ORDER = ("bench", "generate", "features", "train", "ranker", "ranker_x10", "budget",
         "serve_load", "page_load", "batch", "batch_dask")


def scripts() -> list[str]:
    """Every bench_*.py, those with a stated scale first in SCALES order."""
    found = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    return [n for n in SCALES if n in found] + [n for n in found if n not in SCALES]


def run(name: str) -> tuple[float, int, str]:
    """Run one benchmark script; (seconds, exit code, tail of its error output)."""
    cmd = [sys.executable, str(HERE / f"bench_{name}.py"), *SCALES.get(name, [])]
    print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=HERE, stderr=subprocess.PIPE, text=True,
                              timeout=TIMEOUT_S)
        code, tail = done.returncode, done.stderr[-1500:]
    except subprocess.TimeoutExpired:
        code, tail = -1, f"stopped after {TIMEOUT_S} s"
    seconds = time.perf_counter() - start
    print(f"== {name}: {'ok' if code == 0 else f'FAILED ({code})'} in {seconds:.0f} s",
          flush=True)
    if code != 0:
        print(tail, file=sys.stderr)
    return seconds, code, tail


def _value(v: object) -> str:
    if isinstance(v, float):
        if v != v:
            return "n/a"
        return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(results: dict) -> str:
    """docs/benchmarks.md: one table per benchmark (figure, value, goal, met, machine, date)."""
    keys = [k for k in ORDER if k in results] + sorted(k for k in results if k not in ORDER)
    goals = [(k, f) for k in keys for f in results[k]["figures"] if f.get("met") is not None]
    unmet = [(k, f) for k, f in goals if not f["met"]]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`benchmarks/run_all.py`) from `benchmarks/results.json`; "
        "do not edit by hand. Each benchmark runs at the scale stated under its title; a "
        "figure with a goal from an issue shows the goal and whether it is met. Latencies and "
        "wall times are measured on a shared machine: the load average recorded with some "
        "benchmarks says how busy it was. Benchmarks are not tests: CI does not run them.",
        "",
        f"**Goals met: {len(goals) - len(unmet)} of {len(goals)}.**"
        + ("" if not unmet else " Not met: " + "; ".join(
            f"{k}: {f['name']} ({_value(f['value'])} {f['unit']}, goal {f['goal']})"
            for k, f in unmet) + "."),
        "",
    ]
    for key in keys:
        section = results[key]
        lines += [f"## {key}", "", f"Scale: {section.get('scale') or 'as recorded'}.", "",
                  "| figure | value | goal | met | machine | date |",
                  "|---|---:|---|---|---|---|"]
        for f in section["figures"]:
            met = {True: "yes", False: "**no**", None: ""}[f.get("met")]
            lines.append(f"| {_cell(f['name'])} | {_value(f['value'])} {_cell(f['unit'])} | "
                         f"{_cell(f.get('goal', ''))} | {met} | {_cell(section['machine'])} | "
                         f"{section['date']} |")
        lines.append("")
    return "\n".join(lines)


def write_doc(results: dict) -> None:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    tmp = DOC.with_suffix(".md.tmp")
    tmp.write_text(render(results))
    tmp.replace(DOC)
    print(f"wrote {DOC}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="run only these (e.g. train serve_load)")
    parser.add_argument("--render-only", action="store_true",
                        help="only write docs/benchmarks.md from results.json")
    args = parser.parse_args()
    if not args.render_only:
        names = [n for n in scripts() if not args.only or n in args.only]
        start = time.perf_counter()
        runs = {name: run(name) for name in names}
        minutes = (time.perf_counter() - start) / 60
        failed = [n for n, (_, code, _) in runs.items() if code != 0]
        figures = [figure(f"bench_{n}.py wall time", round(s, 1), "s", "exit code 0",
                          code == 0) for n, (s, code, _) in runs.items()]
        if not args.only:  # the whole `make bench` has a goal; a partial run says nothing
            figures.insert(0, figure("make bench wall time", round(minutes, 1), "min",
                                     f"< {GOAL_MINUTES:.0f} min on 2 cores",
                                     minutes < GOAL_MINUTES))
        record("bench" if not args.only else "bench_partial", figures,
               scale="every benchmark at its stated scale (benchmarks/run_all.py SCALES)")
        if failed:
            print(f"failed: {', '.join(failed)}", file=sys.stderr)
    write_doc(json.loads(RESULTS.read_text()) if RESULTS.exists() else {})


if __name__ == "__main__":
    main()
