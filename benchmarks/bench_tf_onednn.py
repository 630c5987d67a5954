"""Keras on TensorFlow with Eigen's CPU kernels against oneDNN's (``TF_ENABLE_ONEDNN_OPTS`` 0 and 1).

TensorFlow turns oneDNN on by itself only on CPUs with AVX512-VNNI, AVX512-BF16 or AMX; zoo-keras sets
``TF_ENABLE_ONEDNN_OPTS=1`` unless the user set it. Each round times every model under both settings,
alternating, so that both see the same load:

- ``zoo bench MODEL --input SIZE --batch-size 128``: the bare training and inference step's img/s;
- ``zoo train MODEL`` on real Fashion-MNIST (``--train-limit`` images, one epoch, batch 128, seed 0):
  steady-state training img/s, the whole command's wall seconds and test top-1, which shows the two
  kernel sets train the same network (their round-off differs, so not bit for bit).

Printed: per model and setting, medians over the rounds, and oneDNN's speed-up.

    .venv/bin/python benchmarks/bench_tf_onednn.py [--rounds 2] [--models lenet5-keras:1x28x28,...]
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
MODELS = "lenet5-keras:1x28x28,alexnet-keras-bn:1x56x56,alexnet-keras-res:1x28x28,alexnet-keras-small:1x28x28"
SETTINGS = ("0", "1")


def zoo(args: list[str], env: dict[str, str]) -> tuple[float, dict]:
    """Wall seconds and JSON output of one zoo command; exits on failure."""
    started = time.perf_counter()
    done = subprocess.run([str(ZOO), *args, "-f", "json"], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"zoo {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return seconds, json.loads(done.stdout)


def measure(model: str, size: str, setting: str, train_limit: int, home: Path) -> dict[str, float]:
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": setting, "KERAS_BACKEND": "tensorflow",
           "OMP_WAIT_POLICY": "PASSIVE", "TF_CPP_MIN_LOG_LEVEL": "2", "ZOO_HOME": str(home / setting)}
    _, bench = zoo(["bench", model, "--input", size, "--batch-size", "128", "--steps", "10", "--warmup", "3"], env)
    (row,) = bench["rows"]
    figures = {"bench_train": row["train_samples_per_sec"], "bench_infer": row["infer_samples_per_sec"]}
    if train_limit:
        wall, run = zoo(["train", model, "--dataset", "fashion-mnist", "--epochs", "1", "--limit", str(train_limit),
                         "--limit-test", "1000", "--batch-size", "128", "--seed", "0"], env)
        shown = zoo(["runs", "show", str(run["run_id"])], env)[1]
        figures.update(train_wall=wall, top1=run["top1_pct"],
                       steady=shown["metrics"].get("train_steady_samples_per_sec") or 0.0)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=MODELS, help="MODEL:CxHxW pairs, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--train-limit", type=int, default=5000, help="images of the zoo train run; 0: none")
    args = parser.parse_args()
    pairs = [item.split(":") for item in args.models.split(",")]
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="zoo-onednn-") as tmp:
        for round_ in range(args.rounds):
            for model, size in pairs:
                for setting in SETTINGS:
                    figures = measure(model, size, setting, args.train_limit, Path(tmp))
                    results.setdefault((model, setting), []).append(figures)
                    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
                    print(f"round {round_ + 1} {model} TF_ENABLE_ONEDNN_OPTS={setting}: {figures} (load {load})",
                          flush=True)
    keys = ["bench_train", "bench_infer", *(["steady", "train_wall", "top1"] if args.train_limit else [])]
    print(f"\nmedians over {args.rounds} round(s); bench: batch 128, 10 steps after 3; img/s, s, %")
    print(f"{'model':<22}{'oneDNN':>7}" + "".join(f"{key:>13}" for key in keys))
    for model, _ in pairs:
        medians = {}
        for setting in SETTINGS:
            medians[setting] = {key: statistics.median(r[key] for r in results[(model, setting)]) for key in keys}
            print(f"{model:<22}{'on' if setting == '1' else 'off':>7}"
                  + "".join(f"{medians[setting][key]:>13.1f}" for key in keys))
        speedups = {key: medians["1"][key] / medians["0"][key] for key in ("bench_train", "bench_infer")}
        print(f"{'':<22}{'x':>7}" + "".join(f"{speedups[key]:>13.2f}" for key in speedups))


if __name__ == "__main__":
    main()
