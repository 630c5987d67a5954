"""Throughput of one model, timm's ``benchmark.py`` discipline (``shared/guide/benchmarks.md``).

Synthetic inputs already on the device; warm-up steps (the first ones also
compile under ``torch.compile``); then each timed step is synchronised and
timed alone; the median step time gives ``samples_per_sec = batch / median``.
Training = forward, loss, backward, optimizer step (Adam, the default
recipe); inference = forward in eval mode under ``inference_mode``. On CUDA
out-of-memory the batch is halved and the note says so. ``BenchConfig.execution``
(a training run's ``eager``, ``compiled`` or ``cuda-graphs``) times the step the way
that run ran it, for its loop efficiency; without it ``compile``/``compile_mode`` decide.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from zoo.api import BenchConfig, ModelSpec, Throughput, ZooError
from zoo_torch import runtime
from zoo_torch.execution import GRAPH_MODES
from zoo_torch.train import build


def as_executed(config: BenchConfig) -> BenchConfig:
    """``config`` with ``compile``/``compile_mode`` set to how a run with ``config.execution`` ran its steps."""
    if config.execution == "eager":
        return replace(config, compile=False)
    if config.execution == "compiled":
        return replace(config, compile=True)
    if config.execution == "cuda-graphs":
        mode = config.compile_mode if config.compile_mode in GRAPH_MODES else "reduce-overhead"
        return replace(config, compile=True, compile_mode=mode)
    return replace(config, compile=bool(config.compile))


def benchmark(spec: ModelSpec, config: BenchConfig) -> list[Throughput]:
    """One :class:`Throughput` per requested mode (``train`` then ``infer``)."""
    config = as_executed(config)
    device = runtime.resolve_device(config.device)
    channels_last = runtime.use_channels_last(config.channels_last, device)
    modes = [mode for mode, wanted in (("train", config.train), ("infer", config.infer)) if wanted]
    results = []
    for mode in modes:
        batch, note = config.batch_size, ""
        while True:
            try:
                times = _time_mode(spec, config, mode, batch, device, channels_last)
                median = statistics.median(times)
                break
            except torch.OutOfMemoryError as exc:
                if device.type != "cuda" or batch == 1:
                    raise ZooError(f"{spec.name} does not fit in memory even at batch {batch}") from exc
            _release(device)  # after the except block, so the failed attempt's tensors are gone
            batch //= 2
            note = f"batch halved from {config.batch_size} to {batch} after CUDA out-of-memory"
        if config.compile and config.compile_mode != "default":
            note = "; ".join(filter(None, [note, f"torch.compile mode {config.compile_mode}"]))
        results.append(
            Throughput(
                mode=mode,
                samples_per_sec=batch / median,
                median_step_seconds=median,
                batch_size=batch,
                steps=config.timed_steps,
                device=runtime.device_label(device),
                precision=config.precision,
                compiled=config.compile,
                channels_last=channels_last,
                note=note,
                step_seconds=tuple(times),
            )
        )
    return results


def _time_mode(
    spec: ModelSpec, config: BenchConfig, mode: str, batch: int, device: torch.device, channels_last: bool
) -> list[float]:
    """The seconds of each timed step of ``mode`` at ``batch``."""
    in_chans, height, width = config.input_size
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = build(spec, num_classes=config.num_classes, in_chans=in_chans, img_size=(height, width))
    model = model.to(device, memory_format=memory_format)
    generator = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch, in_chans, height, width, device=device, generator=generator)
    x = x.contiguous(memory_format=memory_format)
    y = torch.randint(0, config.num_classes, (batch,), device=device, generator=generator)
    runner: nn.Module = torch.compile(model, mode=config.compile_mode) if config.compile else model
    if mode == "train":
        step = _train_step(runner, model, x, y, device, config.precision)
    else:
        step = _infer_step(runner, x, device, config.precision)
    # A compiled model compiles on its first call; CUDA-graph modes record on a later one and replay after.
    for _ in range(max(config.warmup_steps, 3 if config.compile else 0)):
        step()
    runtime.synchronize(device)
    times = []
    for _ in range(max(config.timed_steps, 1)):
        start = time.perf_counter()
        step()
        runtime.synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def _train_step(
    runner: nn.Module, model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device, precision: str
) -> Callable[[], None]:
    runner.train()
    optimizer = runtime.create_optimizer(model, "adam", 1e-3, 0.0)

    def step() -> None:
        with runtime.autocast(device, precision):
            loss = F.cross_entropy(runner(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _infer_step(runner: nn.Module, x: torch.Tensor, device: torch.device, precision: str) -> Callable[[], None]:
    runner.eval()

    def step() -> None:
        with torch.inference_mode(), runtime.autocast(device, precision):
            runner(x)

    return step


def _release(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
