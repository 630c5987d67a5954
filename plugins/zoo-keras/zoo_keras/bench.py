"""Timing training and inference steps on synthetic data, per zoo's throughput protocol.

Inputs are generated on the device with ``keras.random``; warm-up steps run
until tracing and compilation are done; each timed step blocks on its result
(``train_on_batch`` and ``predict_on_batch`` return numpy) before the clock is
read. Training is a full step (forward, loss, backward, Adam update);
inference is the compiled forward pass with ``training=False``. The median
step time gives ``samples_per_sec``. A batch that runs out of memory is
halved and retried, and the row says so.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from zoo.api import BenchConfig, Throughput, ZooError
from zoo_keras.optim import ADAM_EPSILON
from zoo_keras.runtime import backend_name, device_label, keras, keras_device, resolve_device
from zoo_keras.training import dtype_policy, jit_compile, precision_policy

_OOM_MARKERS = ("out of memory", "resourceexhausted", "resource_exhausted", "oom when allocating")


def _is_oom(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(marker in text for marker in _OOM_MARKERS)


def time_steps(step: Callable[[], Any], warmup: int, timed: int) -> list[float]:
    """Seconds of each of ``timed`` calls to ``step`` after ``warmup`` untimed ones (at least 2)."""
    for _ in range(max(2, warmup)):
        step()
    times = []
    for _ in range(max(1, timed)):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def _one_batch(build: Callable[..., Any], config: BenchConfig, batch: int, device: str, policy: str,
               jit: bool | str) -> list[tuple[str, list[float]]]:
    channels, height, width = config.input_size
    with dtype_policy(policy), keras_device(device):
        model = build(num_classes=config.num_classes, in_chans=channels, img_size=(height, width))
        x = keras.random.normal((batch, height, width, channels), seed=0)
        y = keras.random.randint((batch,), 0, config.num_classes, seed=1, dtype="int32")
        timings = []
        if config.train:
            model.compile(
                optimizer=keras.optimizers.Adam(1e-3, epsilon=ADAM_EPSILON),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                jit_compile=jit,
            )
            timings.append(("train", time_steps(lambda: model.train_on_batch(x, y), config.warmup_steps,
                                                config.timed_steps)))
        if config.infer:
            if not config.train:
                model.compile(jit_compile=jit)
            timings.append(("infer", time_steps(lambda: model.predict_on_batch(x), config.warmup_steps,
                                                config.timed_steps)))
    return timings


def benchmark(build: Callable[..., Any], config: BenchConfig) -> list[Throughput]:
    """One :class:`Throughput` per requested mode for the model ``build`` makes."""
    device = resolve_device(config.device)
    policy = precision_policy(config.precision, device)
    jit = jit_compile(config.compile, device)
    compiled = jit is True or (jit == "auto" and backend_name() == "jax")
    notes: list[str] = []  # versions, device and layout travel in the environment and the row's fields
    batch = config.batch_size
    while True:
        try:
            timings = _one_batch(build, config, batch, device, policy, jit)
            break
        except Exception as exc:
            if not _is_oom(exc) or batch == 1:
                raise
            batch //= 2
            keras.backend.clear_session()
    if batch != config.batch_size:
        notes.append(f"batch halved from {config.batch_size} to {batch}: out of memory")
    if not timings:
        raise ZooError("nothing to time: enable training or inference")
    rows = []
    for mode, times in timings:
        median = statistics.median(times)
        rows.append(
            Throughput(
                mode=mode,
                samples_per_sec=batch / median,
                median_step_seconds=median,
                batch_size=batch,
                steps=len(times),
                device=device_label(device),
                precision="bf16" if policy == "mixed_bfloat16" else "fp32",
                compiled=compiled,
                channels_last=True,
                note="; ".join(notes),
                step_seconds=tuple(times),
            )
        )
    return rows
