"""Benchmark: bench_ranker.py on a 1,000,000-influencer catalogue (ten copies of the 100,000
one, `--copies 10`: see run_all.py SCALES), recorded under `ranker_x10`.
Run: .venv/bin/python benchmarks/bench_ranker_1m.py --copies 10 --briefs 40 --brute-briefs 10
"""

from bench_ranker import main

if __name__ == "__main__":
    main()
