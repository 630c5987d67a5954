"""Training images/s: zoo-torch's loop against the plain loop a PyTorch tutorial writes.

The tutorial loop: float32 normalised tensors in a ``TensorDataset``,
``DataLoader(shuffle=True, batch_size=128)``, ``.to(device)`` per batch,
``torch.optim.Adam(lr=1e-3)``, ``loss.item()`` per batch for its running loss.
zoo's loop: ``TorchBackend.fit`` (uint8 data resident on the device,
per-batch normalisation there, channels_last and fused Adam by default).
Same model (built by ``zoo_torch.models``), same batch, same optimizer
(Adam, lr 1e-3, eps 1e-8), same number of steps, one fresh model per
measurement. The two loops alternate for ``--rounds`` rounds. On the CPU
each step is timed (fetching the batch included) and the figure is
batch / median step time, which resists bursts of load from other
processes on a shared machine; whole-epoch figures are printed per round.
On CUDA (zoo's steps are asynchronous) the figure is the median of the
whole-epoch images/s. Ratio last.

Models: ``alexnet_bn`` at 1x28x28 on real Fashion-MNIST (zoo.data) and
``alexnet_small`` at 3x32x32 on synthetic uint8 images (CIFAR-10's shape).

``--compile-mode MODE`` runs zoo's side under ``torch.compile`` in that mode
(``reduce-overhead``: CUDA graphs) for two epochs and scores the second, so
compiling and graph recording are left out; the tutorial's side stays eager,
as the tutorial writes it.

    .venv/bin/python benchmarks/bench_torch_loop.py [--rounds 3] [--steps-bn 10] [--steps-small 4] [--device cpu]
        [--compile-mode reduce-overhead]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from zoo import get_spec  # noqa: E402
from zoo.api.backend import Preprocessing, SilentProgress, TrainingData  # noqa: E402
from zoo.api.config import TrainConfig  # noqa: E402
from zoo.api.data import Split  # noqa: E402
from zoo_torch.backend import TorchBackend  # noqa: E402
from zoo_torch.models import alexnet_bn, alexnet_small  # noqa: E402
from zoo_torch.runtime import device_name  # noqa: E402

BATCH = 128


class StepClock(SilentProgress):
    """Times zoo's steps from the progress callbacks (``advance`` comes after each optimizer step;
    on the CPU every op has finished by then)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.last = 0.0

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self.last = time.perf_counter()

    def advance(self, steps: int = 1) -> None:
        now = time.perf_counter()
        self.times.append(now - self.last)
        self.last = now


def tutorial_loop(
    builder: object, images: np.ndarray, labels: np.ndarray, prep: Preprocessing, device: torch.device
) -> tuple[float, list[float]]:
    """The tutorial's loop over ``images`` for one epoch: (epoch images/s, step seconds).
    Building the model and the float32 dataset is not timed."""
    mean = torch.tensor(prep.mean).view(1, -1, 1, 1)
    std = torch.tensor(prep.std).view(1, -1, 1, 1)
    x = (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 - mean) / std
    loader = DataLoader(TensorDataset(x, torch.from_numpy(labels)), batch_size=BATCH, shuffle=True)
    torch.manual_seed(0)
    model = builder(num_classes=10, in_chans=images.shape[3], img_size=images.shape[1:3]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    model.train()
    running_loss, correct, steps = 0.0, 0, []
    start = last = time.perf_counter()
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = F.cross_entropy(outputs, targets)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        correct += (outputs.argmax(1) == targets).sum().item()
        now = time.perf_counter()
        steps.append(now - last)
        last = now
    return len(images) / (time.perf_counter() - start), steps


def zoo_loop(model: str, images: np.ndarray, labels: np.ndarray, prep: Preprocessing, device: str,
             compile_mode: str | None = None) -> tuple[float, list[float]]:
    """``TorchBackend.fit`` for one epoch (the second of two when compiled): (its images/s, its step seconds)."""
    data = TrainingData("bench", tuple(str(i) for i in range(10)), Split(images, labels), None, prep)
    compiled = compile_mode is not None
    config = TrainConfig(epochs=2 if compiled else 1, batch_size=BATCH, device=device, compile=compiled,
                         compile_mode=compile_mode or "default")
    clock = StepClock()
    result = TorchBackend().fit(get_spec(model), data, config, clock)
    steps = math.ceil(len(images) / BATCH)
    return result.history[-1].images_per_sec, clock.times[-steps:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurements of each loop")
    parser.add_argument("--steps-bn", type=int, default=10, help="batches per measurement, alexnet_bn")
    parser.add_argument("--steps-small", type=int, default=4, help="batches per measurement, alexnet_small")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile-mode", default=None, help="torch.compile zoo's side in this mode (default: eager)")
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else args.device)
    if args.device == "auto":
        args.device = device.type

    from zoo.data import load_dataset

    fashion = load_dataset("fashion-mnist")
    rng = np.random.default_rng(0)
    cases = [
        ("alexnet-torch-bn", alexnet_bn, "1x28x28 Fashion-MNIST", args.steps_bn,
         fashion.train.images, fashion.train.labels, Preprocessing(fashion.spec.mean, fashion.spec.std, (28, 28))),
        ("alexnet-torch-small", alexnet_small, "3x32x32 synthetic", args.steps_small,
         rng.integers(0, 256, (args.steps_small * BATCH, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 60_000),
         Preprocessing((0.49, 0.48, 0.45), (0.25, 0.24, 0.26), (32, 32))),
    ]
    print(f"machine: {platform.machine()}, {device_name(device)}, {os.cpu_count()} CPUs, "
          f"{torch.get_num_threads()} torch threads; torch {torch.__version__}, Python {platform.python_version()}")
    if args.compile_mode is not None:
        print(f"zoo's side: torch.compile mode {args.compile_mode}, scored on its second epoch")
    per_step = device.type == "cpu"
    print("figure: batch / median step time" if per_step else "figure: median of whole-epoch images/s")
    ratios = []
    for model, builder, label, steps, images, labels, prep in cases:
        count = steps * BATCH
        images, labels = np.array(images[:count]), np.array(labels[:count], dtype=np.int64)
        figures: dict[str, list[float]] = {"tutorial": [], "zoo": []}
        steps_s: dict[str, list[float]] = {"tutorial": [], "zoo": []}
        for round_ in range(args.rounds):
            for which in ("tutorial", "zoo") if round_ % 2 == 0 else ("zoo", "tutorial"):
                if which == "tutorial":
                    epoch, times = tutorial_loop(builder, images, labels, prep, device)
                else:
                    epoch, times = zoo_loop(model, images, labels, prep, args.device, args.compile_mode)
                figures[which].append(epoch)
                steps_s[which] += times
            print(f"  {model} round {round_ + 1}: epoch figures tutorial {figures['tutorial'][-1]:.1f} img/s, "
                  f"zoo {figures['zoo'][-1]:.1f} img/s", flush=True)
        if per_step:  # the median step resists bursts of load from other processes on a shared machine
            tutorial, zoo = (BATCH / statistics.median(steps_s[k]) for k in ("tutorial", "zoo"))
        else:
            tutorial, zoo = (statistics.median(figures[k]) for k in ("tutorial", "zoo"))
        ratio = zoo / tutorial
        ratios.append(ratio)
        print(f"{model} {label}, batch {BATCH}, {steps} steps x {args.rounds} rounds: "
              f"tutorial {tutorial:.1f} img/s, zoo {zoo:.1f} img/s, ratio {ratio:.2f}x")
    overall = math.prod(ratios) ** (1 / len(ratios))
    print(f"ratio zoo/tutorial (geometric mean of the medians' ratios): {overall:.2f}x "
          f"(goal >= 1.0x: {'met' if overall >= 1.0 else 'NOT met'})")
    return 0 if overall >= 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
