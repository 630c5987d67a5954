"""What JAX's persistent compilation cache saves a ``zoo compare`` of Keras models on JAX.

Each round, in fresh zoo homes and caches, alternating so that both see the same load:

- ``off``: ``ZOO_COMPILE_CACHE=off``, every program compiled, as before zoo turned the cache on;
- ``warm``: the same compare after one that filled a fresh cache (its programs then load).

Both train anew (``--rerun`` on the second compare of the warm home) and time the bare step, so the
difference is the compiles alone. Printed per setting: the whole compare's wall seconds, and per model
the warm-up seconds of its run (``compile_s``), its bench phase (the bare step, which compiles its own
``train_on_batch`` and ``predict_on_batch``), and the share of its run's programs that were loaded.

    .venv/bin/python benchmarks/bench_compile_cache.py [--rounds 2] [--models lenet5-keras,alexnet-keras-small]
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
RECIPE = ["--dataset", "fashion-mnist", "--epochs", "1", "--limit", "1000", "--limit-test", "500",
          "--batch-size", "64", "--bench-steps", "10", "--bench-warmup", "2", "--keras-backend", "jax"]


def compare(models: list[str], root: Path, setting: str, *, rerun: bool) -> tuple[float, dict[str, dict]]:
    """Wall seconds and rows by model of one ``zoo compare`` with zoo home and cache under ``root``."""
    env = {**os.environ, "ZOO_HOME": str(root / "home"), "ZOO_CACHE_DIR": str(root / "cache"),
           "ZOO_COMPILE_CACHE": setting, "OMP_WAIT_POLICY": "PASSIVE", "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.perf_counter()
    done = subprocess.run([str(ZOO), "compare", *models, *RECIPE, *(["--rerun"] if rerun else []), "-f", "json"],
                          capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"zoo compare failed ({setting}): {done.stderr.strip().splitlines()[-1:]}")
    return seconds, {row["model"]: row for row in json.loads(done.stdout)["rows"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="lenet5-keras,alexnet-keras-small")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    models = args.models.split(",")
    walls: dict[str, list[float]] = {"off": [], "warm": []}
    rows: dict[str, list[dict[str, dict]]] = {"off": [], "warm": []}
    for round_ in range(args.rounds):
        for setting in ("off", "warm"):
            with tempfile.TemporaryDirectory(prefix=f"zoo-compile-{setting}-") as tmp:
                if setting == "warm":
                    compare(models, Path(tmp), "on", rerun=False)  # fills the cache
                seconds, by_model = compare(models, Path(tmp), "off" if setting == "off" else "on",
                                            rerun=setting == "warm")
            walls[setting].append(seconds)
            rows[setting].append(by_model)
            load = " ".join(f"{value:.2f}" for value in os.getloadavg())
            print(f"round {round_ + 1} {setting:>4}: compare {seconds:6.1f} s (load {load})", flush=True)
    print(f"\nmedians over {args.rounds} round(s), {' '.join(RECIPE)}")
    print(f"{'model':<22}{'cache':>6}{'compile s':>11}{'bench s':>9}{'start s':>9}{'loaded %':>10}{'top-1 %':>9}")
    for model in models:
        for setting in ("off", "warm"):
            runs = [by_model[model] for by_model in rows[setting]]

            def median(key: str, runs: list[dict] = runs) -> float:
                return statistics.median(row.get(key) or 0.0 for row in runs)

            print(f"{model:<22}{setting:>6}{median('compile_s'):>11.2f}{median('wall_bench_s'):>9.2f}"
                  f"{median('wall_start_s'):>9.2f}{median('compile_cache_hits_pct'):>10.0f}{median('top1_pct'):>9.2f}")
    off, warm = statistics.median(walls["off"]), statistics.median(walls["warm"])
    print(f"whole compare: {off:.1f} s without the cache, {warm:.1f} s with it warm ({off / warm:.2f}x)")


if __name__ == "__main__":
    main()
