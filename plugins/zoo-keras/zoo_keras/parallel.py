"""Data-parallel Keras on JAX: ``keras.distribution.DataParallel`` over this process's devices.

``zoo train MODEL --nproc-per-node N`` on a zoo-keras model sets ``ZOO_DATA_PARALLEL_DEVICES=N`` (and, for a
CPU, XLA's flag that shows N host devices) before Keras starts. Each batch is split over the N devices along
its first axis, the variables replicated; the gradients are the whole batch's, so ``batch_size`` is the global
batch and the learning rate is not scaled. One process drives all N devices (JAX's single-controller model);
several hosts (``jax.distributed``) and TensorFlow's ``MirroredStrategy`` are not wired in.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from zoo.api import UsageError
from zoo_keras.runtime import backend_name

DEVICES_ENV = "ZOO_DATA_PARALLEL_DEVICES"


def requested_devices() -> int:
    """How many devices the run was asked to train on (1: not data-parallel)."""
    text = os.environ.get(DEVICES_ENV, "").strip()
    return int(text) if text.isdecimal() and int(text) > 0 else 1


@contextlib.contextmanager
def data_parallel(batch_size: int) -> Iterator[dict[str, Any]]:
    """Keras' ``DataParallel`` distribution for the duration (nothing when one device was asked for); yields
    what the run's ``fit_details`` record about it."""
    count = requested_devices()
    if count <= 1:
        yield {}
        return
    if backend_name() != "jax":
        raise UsageError(f"data-parallel zoo-keras runs on JAX: add --keras-backend jax (now {backend_name()})")
    if batch_size % count:
        raise UsageError(f"--batch-size {batch_size} does not split over {count} devices; pick a multiple of {count}")
    import jax
    import keras

    devices = jax.devices()
    if len(devices) < count:
        raise UsageError(f"--nproc-per-node {count}: JAX sees {len(devices)} device(s) here")
    before = keras.distribution.distribution()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices[:count]))
    try:
        yield {"distributed": {"world_size": count, "backend": "keras.distribution.DataParallel (JAX)",
                               "global_batch": batch_size, "lr_scaling": "none (the batch is global)"}}
    finally:
        keras.distribution.set_distribution(before)
