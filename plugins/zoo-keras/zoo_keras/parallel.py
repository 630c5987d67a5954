"""Data-parallel Keras: ``keras.distribution.DataParallel`` on JAX, ``tf.distribute.MirroredStrategy`` on
TensorFlow, over this process's devices.

``zoo train MODEL --nproc-per-node N`` on a zoo-keras model sets ``ZOO_DATA_PARALLEL_DEVICES=N`` before Keras
starts. Replicas map to devices: the first N GPUs; on a machine without GPUs, N host devices (on JAX, XLA's
flag that shows N of them; on TensorFlow, the CPU split into N logical devices by :mod:`zoo_keras.runtime`),
which share the CPU's cores. Each global batch of ``batch_size`` images is split over the N replicas along
its first axis (``batch_size / N`` each), the variables replicated and the gradients the whole batch's (on
TensorFlow each replica's loss is its share of the batch's mean, :class:`zoo_keras.losses.ReplicaShareOfMean`,
and the strategy sums the gradients), so ``batch_size`` is the global batch and the learning rate is not
scaled. One process drives all N devices; several hosts
(``jax.distributed``, ``MultiWorkerMirroredStrategy``) are not wired in, nor is Keras on PyTorch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from zoo.api import UsageError
from zoo_keras.runtime import DEVICES_ENV, backend_name

BACKEND_HINT = "add --keras-backend jax or --keras-backend tensorflow"


def requested_devices() -> int:
    """How many devices the run was asked to train on (1: not data-parallel)."""
    text = os.environ.get(DEVICES_ENV, "").strip()
    return int(text) if text.isdecimal() and int(text) > 0 else 1


@contextlib.contextmanager
def data_parallel(batch_size: int) -> Iterator[dict[str, Any]]:
    """The backend's data-parallel distribution for the duration (nothing when one device was asked for):
    models built, compiled, trained and restored inside it are replicated. Yields what the run's
    ``fit_details`` record about it."""
    count = requested_devices()
    if count <= 1:
        yield {}
        return
    if backend_name() not in ("jax", "tensorflow"):
        raise UsageError(f"data-parallel zoo-keras runs on JAX or TensorFlow: {BACKEND_HINT} (now {backend_name()})")
    if batch_size % count:
        raise UsageError(f"--batch-size {batch_size} does not split over {count} devices; pick a multiple of {count}")
    details = {"world_size": count, "replicas": count, "global_batch": batch_size,
               "per_replica_batch": batch_size // count, "lr_scaling": "none (the batch is global)"}
    scope = _mirrored if backend_name() == "tensorflow" else _jax_data_parallel
    with scope(count) as described:
        yield {"distributed": {**described, **details}}


@contextlib.contextmanager
def _jax_data_parallel(count: int) -> Iterator[dict[str, Any]]:
    import jax
    import keras

    devices = jax.devices()
    if len(devices) < count:
        raise UsageError(f"--nproc-per-node {count}: JAX sees {len(devices)} device(s) here")
    before = keras.distribution.distribution()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices[:count]))
    try:
        yield {"backend": "keras.distribution.DataParallel (JAX)", "strategy": "DataParallel",
               "devices": [str(device) for device in devices[:count]]}
    finally:
        keras.distribution.set_distribution(before)


@contextlib.contextmanager
def _mirrored(count: int) -> Iterator[dict[str, Any]]:
    import tensorflow as tf

    devices = [d.name for d in tf.config.list_logical_devices("GPU")] or [
        d.name for d in tf.config.list_logical_devices("CPU")]
    if len(devices) < count:
        raise UsageError(f"--nproc-per-node {count}: TensorFlow sees {len(devices)} device(s) here")
    strategy = tf.distribute.MirroredStrategy(devices=devices[:count])
    with strategy.scope():
        yield {"backend": "tf.distribute.MirroredStrategy (TensorFlow)", "strategy": "MirroredStrategy",
               "devices": devices[:count]}
