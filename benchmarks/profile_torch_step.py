"""zoo-torch's training step against the bare step, block for block in one warm process (CPU).

A shared machine's load moves an epoch's img/s by 2-3x between runs, so this compares the two
steps under the same load: blocks of 5 bare steps (``zoo bench``'s step: a fixed synthetic batch)
alternate with blocks of 5 steps doing what ``zoo_torch.train._Loop.train_epoch`` does per step
(the next shuffled batch through ``DeviceImages.inputs`` with the dataset's augmentation, the step,
the loss and accuracy sums on the device), and the data path alone. Medians of the blocks, and the
ratio that loop efficiency would be without load noise. Real Fashion-MNIST, batch 128, after
``--warmup`` (60) loop steps.

    .venv/bin/python benchmarks/profile_torch_step.py [--model lenet5-torch] [--rounds 20] [--warmup 60]
        [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from zoo import get_spec
from zoo.api.config import TrainConfig
from zoo.data import load_dataset
from zoo.run.allocator import keep_freed_memory
from zoo.run.plan import prepare_data
from zoo_torch import runtime
from zoo_torch.data import DeviceImages
from zoo_torch.train import build

BATCH = 128


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="lenet5-torch")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--per-batch", action="store_true", help="convert every batch, as zoo did before 2026-12-07")
    parser.add_argument("--warmup", type=int, default=60, help="loop steps before timing")
    args = parser.parse_args(argv)
    keep_freed_memory()  # as zoo's runs do
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = get_spec(args.model)
    config = TrainConfig.build(spec.recipe, {"limit": 20000, "batch_size": BATCH, "device": "cpu"})
    data, _ = prepare_data(spec, load_dataset("fashion-mnist"), config)
    prep, augmentation, cpu = data.preprocessing, data.augmentation, torch.device("cpu")
    train = DeviceImages(data.train.images, data.train.labels, prep, cpu, channels_last=True,
                         prepare=not args.per_batch, pad=augmentation.crop_padding)
    generator = torch.Generator().manual_seed(0)
    batches = torch.randperm(len(train), generator=generator).split(BATCH)[:-1]
    model = build(spec, num_classes=10, in_chans=prep.in_chans, img_size=prep.img_size)
    model = model.to(memory_format=torch.channels_last).train()
    optimizer = runtime.create_optimizer(model, "adam", 1e-3, 0.0)
    x_bare = torch.randn(BATCH, prep.in_chans, *prep.img_size).contiguous(memory_format=torch.channels_last)
    y_bare = torch.randint(0, 10, (BATCH,))
    losses, loss_sum = torch.zeros(len(batches)), torch.zeros(())
    correct = torch.zeros((), dtype=torch.int64)

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return logits, loss

    def loop_step(i: int) -> None:
        batch = batches[i % len(batches)]
        x, y = train.inputs(batch, augmentation, generator), train.labels[batch]
        logits, loss = step(x, y)
        loss = loss.detach()
        losses[i % len(batches)] = loss
        loss_sum.add_(loss * batch.numel())
        correct.add_((logits.detach().argmax(1) == y).sum())

    kinds = {"bare step": lambda i: step(x_bare, y_bare), "loop step": loop_step,
             "data path alone": lambda i: train.inputs(batches[i % len(batches)], augmentation, generator)}
    for i in range(args.warmup):
        loop_step(i)
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for r in range(args.rounds):
        for kind, run in kinds.items():
            started = time.perf_counter()
            for i in range(5):
                run(r * 5 + i)
            times[kind].append((time.perf_counter() - started) / 5)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    print(f"{args.model}, batch {BATCH}, {torch.get_num_threads()} threads, augmentation {augmentation}")
    for kind, seconds in medians.items():
        print(f"{kind:16s} {seconds * 1000:8.2f} ms  {BATCH / seconds:9.1f} img/s")
    print(f"bare step / loop step (loop efficiency without load noise): "
          f"{medians['bare step'] / medians['loop step']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
