"""Training throughput of zoo-keras' ``fit`` against the tutorials' ``model.fit`` on numpy arrays.

Same model, same samples, same batch size, same optimizer, in one process:

- zoo: ``KerasBackend.fit`` (uint8 arrays -> tf.data: per-epoch stateless
  shuffle, batch gather, normalise, prefetch) with its progress and control
  callbacks;
- tutorial: what the Keras tutorials write, ``x = images.astype("float32") / 255``
  normalised up front, then ``model.fit(x, y, batch_size=128)``.

Each side trains ``--epochs`` epochs (default 2) and is scored on its last
epoch, so tracing and warm-up are excluded on both. The sides run ``--repeats``
rounds, swapping which goes first each round, and the best epoch of each
counts, because the machine's speed drifts. The ratio (zoo / tutorial images
per second) is printed last.

    .venv/bin/python benchmarks/bench_keras_fit.py                      # alexnet_bn, 1x28x28, ~2-3 min
    .venv/bin/python benchmarks/bench_keras_fit.py --model alexnet-keras-small --input 3x32x32
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time

import numpy as np

from zoo import get_spec
from zoo.api.backend import Augmentation, Preprocessing, SilentProgress, TrainingData
from zoo.api.config import TrainConfig
from zoo.api.data import Split
from zoo.cli.options import parse_input_size
from zoo.plugins.backends import get_backend


def load_images(shape: tuple[int, int, int], count: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Real Fashion-MNIST for 1x28x28 when it can be loaded, else seeded random uint8 images."""
    if shape == (1, 28, 28):
        try:
            from zoo.data import load_dataset

            data = load_dataset("fashion-mnist", progress=False)
            return np.array(data.train.images[:count]), np.array(data.train.labels[:count]), "fashion-mnist"
        except Exception as exc:  # the benchmark still runs without the dataset
            print(f"(fashion-mnist unavailable: {exc}; using random images)")
    channels, height, width = shape
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, height, width, channels), dtype=np.uint8)
    return images, rng.integers(0, 10, count), "random uint8"


def run_zoo(model: str, images: np.ndarray, labels: np.ndarray, epochs: int, batch: int) -> float:
    """Images per second of the last epoch of ``KerasBackend.fit``."""
    channels = images.shape[-1]
    data = TrainingData(
        dataset="bench", classes=tuple(str(i) for i in range(10)), train=Split(images, labels), val=None,
        preprocessing=Preprocessing((0.5,) * channels, (0.25,) * channels, images.shape[1:3]),
        augmentation=Augmentation(),
    )
    config = TrainConfig(epochs=epochs, batch_size=batch, val_split=0.0, seed=0)
    fit = get_backend("keras").fit(get_spec(model), data, config, SilentProgress())
    return fit.history[-1].images_per_sec


def run_tutorial(model: str, images: np.ndarray, labels: np.ndarray, epochs: int, batch: int) -> float:
    """Images per second of the last epoch of ``model.fit(x_float, y, batch_size=batch)``."""
    from zoo_keras.runtime import keras

    keras.utils.set_random_seed(0)
    channels = images.shape[-1]
    net = get_backend("keras").build(get_spec(model), num_classes=10, in_chans=channels,
                                     img_size=images.shape[1:3])
    net.compile(
        optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-8),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x = (images.astype("float32") / 255.0 - 0.5) / 0.25
    y = labels.astype("int32")
    times: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            times.append(time.perf_counter() - self.start)

    net.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[EpochTimer()])
    return len(images) / times[-1]


def clear_session() -> None:
    """Drop the previous run's models, datasets and graphs before the next one starts."""
    from zoo_keras.runtime import keras

    keras.backend.clear_session()
    gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="alexnet-keras-bn")
    parser.add_argument("--input", default="1x28x28", help="CxHxW")
    parser.add_argument("--samples", type=int, default=1536)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    shape = parse_input_size(args.input)
    images, labels, source = load_images(shape, args.samples)
    env = get_backend("keras").environment("cpu")
    print(f"{args.model} at {args.input}, {len(images)} {source} images, batch {args.batch_size}, "
          f"{args.epochs} epochs (last one timed), best of {args.repeats}")
    print(f"keras {env['keras']} ({env['keras_backend']}), tensorflow {env.get('tensorflow', '-')}, "
          f"{env['device_name']}, {os.cpu_count()} CPUs, {platform.python_version()}")
    zoo: list[float] = []
    tutorial: list[float] = []
    runs = {"zoo": (run_zoo, zoo), "tutorial": (run_tutorial, tutorial)}
    for repeat in range(args.repeats):
        order = ("zoo", "tutorial") if repeat % 2 == 0 else ("tutorial", "zoo")  # no side always goes first
        for side in order:
            run, results = runs[side]
            results.append(run(args.model, images, labels, args.epochs, args.batch_size))
            clear_session()
        print(f"  round {repeat + 1} ({' then '.join(order)}): zoo {zoo[-1]:.1f} img/s, "
              f"tutorial {tutorial[-1]:.1f} img/s", flush=True)
    print(f"zoo-keras fit (tf.data, uint8):        {max(zoo):8.1f} images/s")
    print(f"tutorial model.fit (numpy float32):    {max(tutorial):8.1f} images/s")
    print(f"ratio zoo / tutorial: {max(zoo) / max(tutorial):.2f}x")


if __name__ == "__main__":
    main()
