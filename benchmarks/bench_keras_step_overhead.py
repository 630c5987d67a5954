"""zoo-keras' per-step host cost by ``steps_per_execution``, on a model whose step costs almost nothing.

The model is Flatten + Dense(10) on 1x28x28 (7,850 weights), so a step's wall time is what the
loop around it costs: Keras' fit loop and callbacks, zoo-keras' batch making, the data path.
``KerasBackend``'s own fit runs it on the first 20,000 real Fashion-MNIST training images (no
validation, the dataset's default augmentation, batch 128) for 3 epochs with each
``steps_per_execution`` given; epochs 2 and 3 are reported (ms per step, wall and process CPU).
Last, the same model's ``train_on_batch`` on a batch already on the device, as ``zoo bench``
times it. Run once per Keras backend (``KERAS_BACKEND``; PyTorch allows only 1).

    KERAS_BACKEND=jax .venv/bin/python benchmarks/bench_keras_step_overhead.py [--steps-per-execution 1,8,16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zoo import get_spec
from zoo.api.backend import EpochMetrics, SilentProgress
from zoo.api.config import TrainConfig
from zoo.data import load_dataset
from zoo.run.plan import prepare_data
from zoo_keras import training
from zoo_keras.bench import time_steps
from zoo_keras.runtime import backend_name, keras

BATCH = 128


def tiny(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> Any:
    inputs = keras.Input((*img_size, in_chans))
    return keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.Flatten()(inputs)))


class CpuClock(SilentProgress):
    """Process CPU seconds of each epoch."""

    def __init__(self) -> None:
        self.cpu: list[float] = []
        self._started = 0.0

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self._started = time.process_time()

    def end_epoch(self, metrics: EpochMetrics) -> None:
        self.cpu.append(time.process_time() - self._started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps-per-execution", default="1,8,16")
    args = parser.parse_args()
    spec = get_spec("lenet5-keras")  # only for its recipe and the data it is prepared for
    config = TrainConfig.build(spec.recipe, {"epochs": 3, "batch_size": BATCH, "limit": 20_000, "val_split": 0.0,
                                             "device": "cpu"})
    data, _ = prepare_data(spec, load_dataset("fashion-mnist", progress=False), config)
    steps = -(-len(data.train) // BATCH)
    for executions in [int(n) for n in args.steps_per_execution.split(",")]:
        if backend_name() == "torch" and executions != 1:
            continue
        training.steps_per_execution = lambda device, macs, n=executions: n
        clock = CpuClock()
        fit = training.fit(tiny, data, config, clock)
        wall = [len(data.train) / m.steady_images_per_sec / steps * 1e3 for m in fit.history[1:]]
        print(json.dumps({"backend": backend_name(), "steps_per_execution": executions,
                          "wall_ms_per_step": [round(w, 2) for w in wall],
                          "cpu_ms_per_step": [round(c / steps * 1e3, 2) for c in clock.cpu[1:]]}), flush=True)
    model = tiny(num_classes=10, in_chans=1, img_size=(28, 28))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = keras.random.normal((BATCH, 28, 28, 1), seed=0)
    y = keras.random.randint((BATCH,), 0, 10, seed=1, dtype="int32")
    times = time_steps(lambda: model.train_on_batch(x, y), 10, 200)
    print(json.dumps({"backend": backend_name(), "train_on_batch_ms": round(statistics.median(times) * 1e3, 2)}))


if __name__ == "__main__":
    main()
