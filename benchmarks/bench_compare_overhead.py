"""zoo compare's fixed cost per model: its wall time less the models' own training loops, per source tree.

For each tree (this checkout by default; ``--tree DIR`` adds another, e.g. an older commit unpacked
with ``git archive COMMIT | tar -x -C DIR``, run through ``PYTHONPATH`` with this environment's
packages) and each round, in a fresh zoo home: one ``zoo compare MODELS`` that trains every model,
then the same command again, which reuses the stored runs. The trees alternate within a round, so
their ratio is measured under the same load.

- fixed cost of the first compare = (its wall seconds - the models' training loops) / models, the
  loops being each run's epochs' trained images over their img/s (warm-up included, validation
  excluded), read from the JSON every zoo version prints;
- a second compare does no training: all of it is fixed cost.

    .venv/bin/python benchmarks/bench_compare_overhead.py [--tree /tmp/zoo-before] [--rounds 1]
        [--models lenet5-torch,alexnet-torch-res,lenet5-keras] [-- extra zoo compare options]
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

REPO = Path(__file__).resolve().parent.parent
ZOO = Path(sys.executable).with_name("zoo")
MODELS = "lenet5-torch,alexnet-torch-res,lenet5-keras"
RECIPE = ["--dataset", "fashion-mnist", "--epochs", "1", "--limit", "2000", "--limit-test", "1000",
          "--batch-size", "128"]
PACKAGES = (".", "plugins/zoo-torch", "plugins/zoo-keras", "examples/zoo-lenet")


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def compare(tree: Path, models: list[str], extra: list[str], home: Path) -> tuple[float, list[dict]]:
    """Wall seconds and rows of one ``zoo compare`` run with ``tree``'s code (from outside it)."""
    env = {**os.environ, "ZOO_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2"}
    if tree != REPO:
        env["PYTHONPATH"] = os.pathsep.join(str(tree / package) for package in PACKAGES)
    started = time.perf_counter()
    done = subprocess.run([str(ZOO), "compare", *models, *RECIPE, *extra, "-f", "json"], capture_output=True,
                          text=True, env=env, cwd=home.parent)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"zoo compare failed with {tree}: {done.stderr.strip().splitlines()[-1:]}")
    return seconds, json.loads(done.stdout)["rows"]


def loop_seconds(rows: list[dict], train_count: int) -> float:
    """The rows' training loops: every epoch's trained images over its end-to-end img/s."""
    return sum(train_count / epoch["images_per_sec"] for row in rows
               for history in row.get("histories", {}).values() for epoch in history)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", action="append", default=[], help="another source tree to measure")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("extra", nargs="*", help="more zoo compare options (after --)")
    args = parser.parse_args(argv)
    trees = [REPO, *(Path(tree).resolve() for tree in args.tree)]
    models = args.models.split(",")
    train_count = 1800  # --limit 2000 less the 10% validation hold-out
    figures: dict[Path, dict[str, list[float]]] = {tree: {"first": [], "second": []} for tree in trees}
    print(f"{len(models)} models ({', '.join(models)}), {' '.join(RECIPE + args.extra)}; load {_load()}", flush=True)
    for round_index in range(args.rounds):
        for tree in trees if round_index % 2 == 0 else reversed(trees):
            with tempfile.TemporaryDirectory(prefix="zoo-overhead-") as tmp:
                home = Path(tmp, "home")
                first, rows = compare(tree, models, args.extra, home)
                fixed = (first - loop_seconds(rows, train_count)) / len(models)
                second, _ = compare(tree, models, args.extra, home)
            figures[tree]["first"].append(fixed)
            figures[tree]["second"].append(second / len(models))
            print(f"round {round_index + 1}, {tree}: first compare {first:.1f} s (fixed cost {fixed:.1f} s per model), "
                  f"second {second:.1f} s ({second / len(models):.1f} s per model); load {_load()}", flush=True)
    print()
    print("| tree | fixed cost per model, training compare | per model, compare reusing the runs |")
    print("|---|---:|---:|")
    for tree in trees:
        print(f"| {tree} | {statistics.median(figures[tree]['first']):.1f} s | "
              f"{statistics.median(figures[tree]['second']):.1f} s |")
    ours = {kind: statistics.median(values) for kind, values in figures[REPO].items()}
    for tree in trees[1:]:
        theirs = {kind: statistics.median(values) for kind, values in figures[tree].items()}
        print(f"\nthis checkout / {tree.name}: fixed cost per model x{ours['first'] / theirs['first']:.2f}, "
              f"compare reusing the runs x{ours['second'] / theirs['second']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
