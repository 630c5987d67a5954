"""zoo-torch's data path per batch: converted per batch, from a prepared split, and from a prepared split
padded for ``shift`` (one gather), alternating in one process.

Real Fashion-MNIST (20,000 training images), lenet5's 32x32 input (resized up from 28x28), batch 128,
the ``shift`` augmentation, CPU, torch's default threads. Prints the median milliseconds per batch.

    .venv/bin/python benchmarks/bench_torch_data_path.py [--rounds 40] [--batches 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from zoo.api.augment import Augmentation
from zoo.api.backend import Preprocessing
from zoo.data import load_dataset
from zoo_torch.data import DeviceImages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--batches", type=int, default=10, help="batches per timed block")
    args = parser.parse_args()
    fashion = load_dataset("fashion-mnist", progress=False)
    images, cpu = fashion.train.images[:20000], torch.device("cpu")
    prep = Preprocessing(fashion.spec.mean, fashion.spec.std, (32, 32))
    shift = Augmentation(crop_padding=2)
    paths = {
        "per batch": DeviceImages(images, None, prep, cpu, channels_last=True),
        "prepared": DeviceImages(images, None, prep, cpu, channels_last=True, prepare=True),
        "prepared, padded": DeviceImages(images, None, prep, cpu, channels_last=True, prepare=True, pad=2),
    }
    batches = torch.randperm(len(images)).split(128)[:-1]
    generator = torch.Generator().manual_seed(0)
    times: dict[str, list[float]] = {name: [] for name in paths}
    for r in range(args.rounds):
        for name, data in paths.items():
            started = time.perf_counter()
            for i in range(args.batches):
                data.inputs(batches[(r * args.batches + i) % len(batches)], shift, generator)
            times[name].append((time.perf_counter() - started) / args.batches)
    print(f"{torch.get_num_threads()} threads, batch 128, 28x28 -> 32x32, shift (pad 2)")
    for name, values in times.items():
        print(f"{name:18s} {statistics.median(values) * 1000:6.3f} ms per batch")


if __name__ == "__main__":
    main()
