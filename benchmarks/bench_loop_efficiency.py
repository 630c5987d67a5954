"""Loop efficiency: zoo's steady-state training img/s against the bare step's, per model, in one run.

Each model (and each Keras backend for a Keras model) runs in a child process of its own, with
``KERAS_BACKEND`` set, in a private zoo home:

1. the bare training step, timed by the backend's ``benchmark`` as ``zoo compare`` times it
   (synthetic inputs on the device, median step), for the run's model, batch, precision, input
   size and device;
2. ``zoo.train(MODEL, "fashion-mnist")`` on 20,000 real Fashion-MNIST images (18,000 after the
   validation hold-out), batch 128, one epoch: the run record's ``train_steady_samples_per_sec``
   (every step after the warm-up, validation excluded) and how the steps ran;
3. the bare step again, executed as the run executed it.

Loop efficiency = steady img/s / bare img/s (the bare figure: the median of both timings' steps),
exactly as ``zoo compare`` reports it; the goal on a CPU is >= 0.9. On a shared machine a burst of
load during the epoch lowers the steady figure (a mean) more than the bare one (a median), so the
script also times every training step from the progress callbacks (on a CPU each step has finished
when ``advance`` is called) and prints the loop's median step against the bare median step: the
same ratio, robust to bursts.

Each child sets glibc's malloc as zoo's runs and ``zoo compare``'s workers do (``zoo.run.allocator``);
``--malloc system,zoo`` also measures every model with ``ZOO_MALLOC=system`` (glibc's own dynamic
thresholds), alternating the two in each round, to show what the setting changes.

    .venv/bin/python benchmarks/bench_loop_efficiency.py [--models lenet5-torch,alexnet-torch-small]
        [--keras-backends tensorflow,jax,torch] [--limit 20000] [--batch-size 128] [--epochs 1]
        [--bench-steps 20] [--device cpu] [--data-dir DIR] [--rounds 1] [--threads N] [--malloc zoo]

Default models: lenet5-torch and alexnet-torch-small, plus lenet5-keras and alexnet-keras-small when
zoo-keras is installed, on ``--keras-backends`` (default ``$KERAS_BACKEND``, else tensorflow).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

TORCH_MODELS = ("lenet5-torch", "alexnet-torch-small")
KERAS_MODELS = ("lenet5-keras", "alexnet-keras-small")
GOAL = 0.9


class StepClock:
    """A TrainingProgress that timestamps every ``advance`` (one per step, or per execution of several)."""

    def __init__(self) -> None:
        self.steps: list[float] = []  # seconds per step, in order, every epoch
        self._last = 0.0

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self._last = time.perf_counter()

    def advance(self, steps: int = 1) -> None:
        now = time.perf_counter()
        self.steps.extend([(now - self._last) / steps] * steps)
        self._last = now

    def end_epoch(self, metrics: Any) -> None:
        pass


def child(model: str, args: argparse.Namespace) -> dict[str, Any]:
    """Bare step, training run, bare step again, in this process; the figures as a dict."""
    from dataclasses import replace

    import zoo
    from zoo.api.backend import BenchConfig
    from zoo.api.config import TrainConfig
    from zoo.api.sizes import training_img_size
    from zoo.plugins.backends import get_backend
    from zoo.plugins.registry import get_registry
    from zoo.run.allocator import keep_freed_memory
    from zoo.run.store import RunStore

    malloc = keep_freed_memory()  # first, as zoo's runs and workers do
    spec = get_registry().model(model).spec
    backend = get_backend(spec.backend)
    if args.threads and spec.backend == "torch":
        import torch

        torch.set_num_threads(args.threads)
    overrides = {"limit": args.limit, "limit_test": 1000, "batch_size": args.batch_size, "epochs": args.epochs,
                 "device": args.device, "save_every": 0}
    recipe = TrainConfig.build(spec.recipe, overrides)
    shape = (1, *training_img_size(spec, (28, 28), recipe.image_size, recipe.min_image_size))  # as zoo trains
    config = BenchConfig(shape, 10, args.batch_size, device=args.device, warmup_steps=3,
                         timed_steps=args.bench_steps, infer=False)
    before = backend.benchmark(spec, config)[0]
    clock = StepClock()
    with tempfile.TemporaryDirectory(prefix="zoo-loop-") as out:
        result = zoo.train(model, "fashion-mnist", overrides=overrides, data_dir=args.data_dir, output=out,
                           progress=clock)
    record = RunStore().get(result.run_id)
    after = backend.benchmark(spec, replace(config, execution=record.execution))[0]
    warmup = record.epochs[0]["warmup_steps"] or 3
    loop_median = statistics.median(clock.steps[warmup:])
    bare_median = statistics.median([before.median_step_seconds, after.median_step_seconds])
    steady = record.metrics.get("train_steady_samples_per_sec")
    return {
        "model": model, "keras_backend": record.environment.get("keras_backend", "-"), "status": "ok",
        "malloc": "system" if os.environ.get("ZOO_MALLOC") == "system" else "zoo", "malloc_setting": malloc,
        "execution": record.execution or "-", "steady": steady, "bare": args.batch_size / bare_median,
        "bare_before": before.samples_per_sec, "bare_after": after.samples_per_sec,
        "efficiency": steady * bare_median / args.batch_size if steady else None,
        "loop_median": args.batch_size / loop_median, "median_efficiency": bare_median / loop_median,
        "compile_s": record.metrics.get("compile_seconds"),
        "epochs": [round(epoch["images_per_sec"], 1) for epoch in record.epochs],
    }


def measure(model: str, keras_backend: str | None, args: argparse.Namespace, home: Path,
            malloc: str = "zoo") -> dict[str, Any]:
    """Run :func:`child` for ``model`` in a fresh process (``KERAS_BACKEND`` set for a Keras model,
    ``ZOO_MALLOC=system`` for ``malloc="system"``)."""
    env = {**os.environ, "ZOO_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("ZOO_MALLOC", None)
    if malloc == "system":
        env["ZOO_MALLOC"] = "system"
    if keras_backend:
        env["KERAS_BACKEND"] = keras_backend
    command = [sys.executable, __file__, "--child", model, *(["--threads", str(args.threads)] if args.threads else []),
               "--limit", str(args.limit), "--batch-size",
               str(args.batch_size), "--epochs", str(args.epochs), "--bench-steps", str(args.bench_steps),
               "--device", args.device, *(["--data-dir", args.data_dir] if args.data_dir else [])]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"model": model, "keras_backend": keras_backend or "-", "malloc": malloc, "status": "failed",
                "reason": last, "seconds": seconds}
    return {**json.loads(lines[-1]), "seconds": seconds}


def _num(value: float | None, spec: str = ",.1f") -> str:
    return "-" if value is None else format(value, spec)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _installed(distribution: str) -> bool:
    try:
        version(distribution)
    except PackageNotFoundError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", help="comma-separated model names [lenet5-torch, alexnet-torch-small, "
                                         "and the Keras ones when zoo-keras is installed]")
    parser.add_argument("--keras-backends", default=os.environ.get("KERAS_BACKEND", "tensorflow"),
                        help="comma-separated Keras backends for the Keras models [$KERAS_BACKEND or tensorflow]")
    parser.add_argument("--limit", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--bench-steps", type=int, default=20, help="timed bare steps, before and after training")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", help="directory holding Fashion-MNIST's files [found as zoo finds it]")
    parser.add_argument("--rounds", type=int, default=1, help="measure each model this many times")
    parser.add_argument("--threads", type=int, help="torch CPU threads for the bare step and the run alike "
                                                    "[torch's default]; 1 is steadier on a shared machine")
    parser.add_argument("--malloc", default="zoo", help="comma-separated: zoo (zoo's malloc thresholds, as zoo "
                                                      "runs) and/or system (ZOO_MALLOC=system) [zoo]")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args)))
        return 0
    mallocs = args.malloc.split(",")
    if not set(mallocs) <= {"zoo", "system"}:
        parser.error("--malloc takes zoo and/or system")
    models = args.models.split(",") if args.models else [*TORCH_MODELS,
                                                         *(KERAS_MODELS if _installed("zoo-keras") else ())]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {_load()} | limit {args.limit}, batch {args.batch_size}, epochs {args.epochs}, "
          f"device {args.device}, {args.bench_steps} bare steps before and after, torch threads "
          f"{args.threads or 'default'}, malloc {args.malloc}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="zoo-loop-efficiency-") as tmp:
        for model in models:
            for backend in (args.keras_backends.split(",") if "keras" in model else [None]):
                for _, malloc in ((r, m) for r in range(args.rounds) for m in mallocs):
                    row = measure(model, backend, args, Path(tmp, "home"), malloc)
                    rows.append(row)
                    label = model + (f" ({backend})" if backend else "") + (f" [malloc {malloc}]"
                                                                           if len(mallocs) > 1 else "")
                    if row["status"] != "ok":
                        print(f"{label}: failed: {row['reason']}", flush=True)
                        continue
                    print(f"{label}: steady {_num(row['steady'])} img/s, bare {_num(row['bare'])} "
                          f"({_num(row['bare_before'])} before, {_num(row['bare_after'])} after), loop efficiency "
                          f"{_num(row['efficiency'], '.3f')}; median step: loop {_num(row['loop_median'])}, "
                          f"{_num(row['median_efficiency'], '.3f')}; compile {_num(row['compile_s'], '.2f')} s, "
                          f"{row['execution']}, {row['seconds']:.0f} s, load {_load()}", flush=True)
    print()
    print("| model | Keras backend | malloc | steps | steady img/s | bare img/s | loop efficiency "
          "| loop median step img/s | median-step efficiency | compile s |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        if row["status"] != "ok":
            print(f"| {row['model']} | {row['keras_backend']} | {row['malloc']} | failed | | | | | | |")
            continue
        print(f"| {row['model']} | {row['keras_backend']} | {row['malloc']} | {row['execution']} | "
              f"{_num(row['steady'])} | "
              f"{_num(row['bare'])} | **{_num(row['efficiency'], '.3f')}** | {_num(row['loop_median'])} | "
              f"{_num(row['median_efficiency'], '.3f')} | {_num(row['compile_s'], '.2f')} |")
    groups: dict[str, list[float]] = {}
    for row in rows:
        key = row["model"] + (f" ({row['keras_backend']})" if row["keras_backend"] != "-" else "")
        key += f" [malloc {row['malloc']}]" if len(mallocs) > 1 else ""
        groups.setdefault(key, []).append(row.get("efficiency") or 0.0)
    medians = {key: statistics.median(values) for key, values in groups.items()}
    met = [key for key, value in medians.items() if value >= GOAL]
    ratios = ", ".join(f"{key} {value:.3f}" for key, value in medians.items())
    print(f"\nloop efficiency (median of {args.rounds} round(s)), goal >= {GOAL}: {len(met)} of {len(medians)} met "
          f"({ratios}); load {_load()}")
    return 0 if len(met) == len(medians) else 1


if __name__ == "__main__":
    sys.exit(main())
