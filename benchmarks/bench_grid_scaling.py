"""zoo compare's grid wall time with N workers side by side (``--jobs N``) against one (``--jobs 1``).

Each round, in fresh zoo homes: the same grid (a model over several seeds, every run trained, nothing reused)
once with ``--jobs 1`` and once with ``--jobs N``, in alternating order. Every worker gets the same thread
count (``--threads``, one by default), so on an N-core machine ``--jobs N`` uses N cores where ``--jobs 1``
uses one: the ideal wall time is 1/N. The steady training img/s per run is printed too: under ``--jobs N``
the runs share the machine's memory bandwidth and caches, and their rows are flagged ``contended``.

    .venv/bin/python benchmarks/bench_grid_scaling.py [--jobs 2] [--seeds 0,1,2,3] [--rounds 2]
        [--model lenet5-torch] [-- extra zoo compare options]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ZOO = Path(sys.executable).with_name("zoo")
RECIPE = ["--dataset", "fashion-mnist", "--epochs", "1", "--limit", "20000", "--limit-test", "2000",
          "--batch-size", "64", "--bench-steps", "5", "--bench-warmup", "2"]


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def run_grid(jobs: int, args: argparse.Namespace, extra: list[str]) -> dict:
    """One comparison in a fresh zoo home: wall seconds, rows."""
    with tempfile.TemporaryDirectory(prefix="zoo-grid-bench-") as home:
        # No JAX compilation cache: the first grid of a round would fill it for the second.
        env = {**os.environ, "ZOO_HOME": home, "OMP_NUM_THREADS": str(args.threads), "ZOO_COMPILE_CACHE": "off"}
        started = time.perf_counter()
        result = subprocess.run([str(ZOO), "compare", args.model, *RECIPE, "--seeds", args.seeds, "--jobs", str(jobs),
                                 "--format", "json", *extra], capture_output=True, text=True, env=env, check=False)
        wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"zoo compare --jobs {jobs} failed:\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout)
    return {"wall": wall, "rows": report["rows"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads per worker, the same in both runs")
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--model", default="lenet5-torch")
    parser.add_argument("--rounds", type=int, default=2)
    args, extra = parser.parse_known_args()
    extra = [arg for arg in extra if arg != "--"]
    walls: dict[int, list[float]] = {1: [], args.jobs: []}
    print(f"{args.model}, seeds {args.seeds}, {args.threads} thread(s) per worker, {os.cpu_count()} cores; "
          f"load before: {_load()}")
    for round_ in range(args.rounds):
        order = [1, args.jobs] if round_ % 2 == 0 else [args.jobs, 1]
        for jobs in order:
            measured = run_grid(jobs, args, extra)
            walls[jobs].append(measured["wall"])
            steady = [row.get("train_steady_samples_per_sec") for row in measured["rows"]]
            contended = any(row.get("contended") for row in measured["rows"])
            print(f"round {round_ + 1} --jobs {jobs}: wall {measured['wall']:.1f} s, steady img/s per model "
                  f"{steady}, contended {contended}; load {_load()}")
    one, many = statistics.median(walls[1]), statistics.median(walls[args.jobs])
    print(f"median wall: --jobs 1 {one:.1f} s, --jobs {args.jobs} {many:.1f} s; speed-up {one / many:.2f}x "
          f"(ideal {args.jobs}x), efficiency {one / many / args.jobs:.0%}")


if __name__ == "__main__":
    main()
