"""Loop efficiency of zoo-keras on each Keras backend: steady training img/s over the bare step's img/s.

For each Keras backend (each in its own process: ``KERAS_BACKEND`` is fixed when Keras is
imported) and each model, one process trains the model on the first ``--limit`` real
Fashion-MNIST training images (no validation split, so every image is trained on; the model's
recipe with ``--epochs`` and ``--batch-size``, the dataset's default augmentation, prepared as
``zoo train`` prepares it) through ``KerasBackend.fit``, and times the bare step before the
first epoch and after every epoch (from the progress callback, so inside the same ``fit``):
``KerasBackend.benchmark``, what ``zoo bench`` runs (``train_on_batch`` on a synthetic batch
already on the device, median of ``--bench-steps`` timed steps), same model, batch, precision
and input size.

Each epoch's figure is its ``steady_images_per_sec`` (warm-up steps left out) over the mean
of the bare figures taken just before and just after it; the ratio printed is the median over
the epochs. The machine this was written on is shared: the load is printed, and so is a second
ratio from process CPU time (CPU seconds per image in the bare step over those of the epoch,
epoch 2 on), which a neighbour's load disturbs less than wall time. ``OMP_WAIT_POLICY=PASSIVE``
is set for the children, as the test suite sets it (spinning OpenMP threads made Keras on
PyTorch 5x slower on the shared 2-core machine).

    .venv/bin/python benchmarks/bench_keras_loop.py [--backends tensorflow,jax,torch]
        [--models lenet5-keras,alexnet-keras-small] [--limit 20000] [--epochs 3] [--batch-size 128]
        [--steps-per-execution N]   # overrides zoo-keras' choice for this measurement
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from zoo.api.backend import SilentProgress  # noqa: E402


class BareSteps:
    """Times the bare step between epochs (wall and process CPU seconds per image)."""

    def __init__(self, backend: Any, spec: Any, config: Any) -> None:
        from zoo_keras import bench

        self.backend, self.spec, self.config = backend, spec, config
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self._cpu_steps: list[float] = []
        plain = bench.time_steps

        def time_steps(step: Any, warmup: int, timed: int) -> list[float]:
            plain(step, warmup, 0)  # the warm-up (and one untimed step)
            cpu = []
            for _ in range(timed):
                started = time.process_time()
                step()
                cpu.append(time.process_time() - started)
            self._cpu_steps = cpu
            return plain(step, 0, timed)

        bench.time_steps = time_steps

    def measure(self) -> None:
        [row] = self.backend.benchmark(self.spec, self.config)
        self.wall.append(row.samples_per_sec)
        self.cpu.append(statistics.median(self._cpu_steps) / row.batch_size)


class EpochClock(SilentProgress):
    """Runs the bare step after every epoch and keeps each epoch's process CPU seconds."""

    def __init__(self, bare: BareSteps) -> None:
        self.bare, self.cpu = bare, []
        self._started = 0.0

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self._started = time.process_time()

    def end_epoch(self, metrics: Any) -> None:
        self.cpu.append(time.process_time() - self._started)
        self.bare.measure()


def child(args: argparse.Namespace) -> None:
    """Measure every model on the Keras backend this process runs (``KERAS_BACKEND``)."""
    from zoo import get_spec
    from zoo.api.backend import BenchConfig
    from zoo.api.config import TrainConfig
    from zoo.data import load_dataset
    from zoo.plugins.backends import get_backend
    from zoo.run.plan import prepare_data
    from zoo_keras import training
    from zoo_keras.runtime import backend_name

    if args.steps_per_execution:
        training.steps_per_execution = lambda device, macs: args.steps_per_execution
    backend = get_backend("keras")
    arrays = load_dataset("fashion-mnist", progress=False)
    for name in args.models.split(","):
        spec = get_spec(name)
        config = TrainConfig.build(spec.recipe, {"epochs": args.epochs, "batch_size": args.batch_size,
                                                 "limit": args.limit, "val_split": 0.0, "device": "cpu"})
        data, _ = prepare_data(spec, arrays, config)
        shape = (data.preprocessing.in_chans, *data.preprocessing.input_size)
        bench = BenchConfig(input_size=shape, num_classes=data.num_classes, batch_size=config.batch_size,
                            device="cpu", precision=config.precision, warmup_steps=5, timed_steps=args.bench_steps,
                            infer=False)
        bare = BareSteps(backend, spec, bench)
        bare.measure()
        clock = EpochClock(bare)
        fit = backend.fit(spec, data, config, clock)
        epochs = [{"epoch": m.epoch, "images_per_sec": m.images_per_sec, "steady": m.steady_images_per_sec,
                   "warmup_steps": m.warmup_steps, "warmup_seconds": m.warmup_seconds,
                   "cpu_per_image": cpu / len(data.train)} for m, cpu in zip(fit.history, clock.cpu, strict=True)]
        print(json.dumps({"backend": backend_name(), "model": name, "input": list(shape), "train": len(data.train),
                          "batch": config.batch_size, "precision": config.precision,
                          "steps_per_execution": fit.extra["steps_per_execution"], "bare": bare.wall,
                          "bare_cpu_per_image": bare.cpu, "epochs": epochs}), flush=True)


def ratios(row: dict[str, Any]) -> tuple[float, float]:
    """(median over epochs of steady / mean of neighbouring bare figures, CPU-time ratio from epoch 2 on)."""
    wall = [epoch["steady"] / ((row["bare"][i] + row["bare"][i + 1]) / 2)
            for i, epoch in enumerate(row["epochs"]) if epoch["steady"]]
    cpu = [statistics.median(row["bare_cpu_per_image"]) / epoch["cpu_per_image"] for epoch in row["epochs"][1:]]
    return (statistics.median(wall) if wall else math.nan, statistics.median(cpu) if cpu else math.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--models", default="lenet5-keras,alexnet-keras-small")
    parser.add_argument("--limit", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--bench-steps", type=int, default=20)
    parser.add_argument("--steps-per-execution", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at start", flush=True)
    rows = []
    for keras_backend in args.backends.split(","):
        command = [sys.executable, __file__, "--child", *sys.argv[1:]]
        env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, "KERAS_BACKEND": keras_backend}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            print(f"{keras_backend}: failed\n{done.stderr[-2000:]}", flush=True)
            continue
        for line in done.stdout.splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                print(line, flush=True)
                rows.append(row)
    print(f"load {os.getloadavg()[0]:.2f} at the end")
    print(f"{'model':20} {'keras on':10} {'spe':>3} {'bare img/s (each epoch)':>30} {'steady img/s':>22} "
          f"{'ratio':>5} {'cpu':>5}")
    for row in rows:
        wall, cpu = ratios(row)
        bares = "/".join(f"{value:,.0f}" for value in row["bare"])
        epochs = "/".join(f"{e['steady']:,.0f}" if e["steady"] else "-" for e in row["epochs"])
        print(f"{row['model']:20} {row['backend']:10} {row['steps_per_execution']:>3} {bares:>30} {epochs:>22} "
              f"{wall:5.2f} {cpu:5.2f}")


if __name__ == "__main__":
    main()
