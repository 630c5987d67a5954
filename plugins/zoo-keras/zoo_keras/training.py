"""``fit`` and ``predict_proba``: Keras' own ``model.fit``/``model.predict`` on zoo's arrays.

Execution settings, measured on a 2-core CPU and chosen per device
(``docs/keras.md``): XLA (``jit_compile``) off on the CPU, where it was slower,
and on for GPUs or when ``--compile`` asks for it; ``steps_per_execution``
:data:`STEPS_PER_EXECUTION` (no measurable gain on the CPU, and it keeps
progress, stop requests and the NaN check per step); the ``mixed_bfloat16``
policy when the precision is ``bf16``, on a GPU or on a CPU with bf16 units
(about 1.6x faster than fp32 on this machine's AMX CPU), logits in float32.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.backend import FitResult, Preprocessing, TrainingData, TrainingProgress
from zoo.config import TrainConfig
from zoo.errors import ZooError
from zoo_keras import data as tfdata
from zoo_keras.control import ControlCallback
from zoo_keras.losses import training_loss
from zoo_keras.numpy_data import ArrayBatches, EpochSetter
from zoo_keras.optim import make_optimizer
from zoo_keras.progress import ProgressCallback
from zoo_keras.runtime import (
    backend_name,
    device_label,
    keras,
    keras_device,
    resolve_device,
    set_random_seed,
    uses_tensorflow,
)
from zoo_keras.state import read_state

if TYPE_CHECKING:
    from zoo.resume import RunControl

STEPS_PER_EXECUTION = 1


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Set Keras' global dtype policy while models are built, then restore it."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def precision_policy(precision: str, device: str) -> str:
    """``mixed_bfloat16`` for bf16 (on a GPU, or on a CPU where asked, as zoo-torch's autocast), else ``float32``.

    ``device`` is accepted for symmetry with :func:`jit_compile`; the policy does not depend on it.
    """
    return "mixed_bfloat16" if precision == "bf16" else "float32"


def jit_compile(compile_requested: bool, device: str) -> bool | str:
    """XLA on TensorFlow when asked or on a GPU; Keras' ``auto`` on the other backends."""
    if not uses_tensorflow():
        return "auto"
    return bool(compile_requested or device != "cpu")


def compile_model(model: Any, config: TrainConfig, steps_per_epoch: int, device: str) -> None:
    """Compile for training: the configured optimizer, cross-entropy on logits (label-smoothed as the recipe
    says; the validation loss too, as zoo-torch's), accuracy."""
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss=training_loss(config.label_smoothing),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile(config.compile, device),
        steps_per_execution=STEPS_PER_EXECUTION if uses_tensorflow() else 1,
    )


def _eval_batches(images: np.ndarray, labels: np.ndarray | None, preprocessing: Preprocessing, *,
                  batch_size: int) -> Any:
    """In-order batches: tf.data on TensorFlow, a numpy PyDataset on the other backends."""
    if uses_tensorflow():
        return tfdata.evaluation_dataset(images, labels, preprocessing, batch_size=batch_size)
    return ArrayBatches(images, labels, preprocessing, batch_size=batch_size)


def _train_batches(data: TrainingData, config: TrainConfig, *, first_epoch: int, end_epoch: int,
                   skip: int) -> tuple[Any, list[Any]]:
    """Training batches for epochs ``first_epoch .. end_epoch - 1`` (skipping ``skip`` batches of the
    first), and the callbacks they need."""
    train, prep = data.train, data.preprocessing
    if uses_tensorflow():
        stream = tfdata.training_dataset(
            train.images, train.labels, prep, data.augmentation, batch_size=config.batch_size, seed=config.seed,
            first_epoch=first_epoch, end_epoch=end_epoch, skip_batches=skip,
        )
        return stream, []
    batches = ArrayBatches(train.images, train.labels, prep, batch_size=config.batch_size,
                           augmentation=data.augmentation, training=True, seed=config.seed,
                           epoch=first_epoch, first_batch=skip)
    return batches, [EpochSetter(batches)]


def fit(build: Any, data: TrainingData, config: TrainConfig, progress: TrainingProgress,
        control: RunControl | None = None) -> FitResult:
    """Build a model with ``build(num_classes, in_chans, input_size)`` and train it with ``model.fit``.

    With ``control.resume`` the weights, optimizer state and dropout seeds come from
    the saved state and training continues at its epoch and step; an epoch resumed
    part-way is trained by its own ``fit`` call, the remaining epochs by a second one.
    """
    started = time.perf_counter()
    device = resolve_device(config.device)
    set_random_seed(config.seed)
    if config.deterministic and uses_tensorflow():
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    if len(data.train) == 0:
        raise ZooError("no training images: lower --val-split or raise --limit")
    prep = data.preprocessing
    steps = math.ceil(len(data.train) / config.batch_size)
    policy = precision_policy(config.precision, device)
    with dtype_policy(policy), keras_device(device):
        model = build(num_classes=data.num_classes, in_chans=prep.in_chans, input_size=prep.input_size)
        compile_model(model, config, steps, device)
    resume = control.resume if control is not None else None
    epoch, step = 0, 0
    if resume is not None:
        with keras_device(device):
            read_state(model, resume.path, resume.extra.get("seed_states"))
        epoch, step = resume.epoch, resume.step
    val = None
    if data.val is not None and len(data.val):
        val = _eval_batches(data.val.images, data.val.labels, prep, batch_size=config.batch_size)
    progress_callback = ProgressCallback(
        progress, epochs=config.epochs, steps=steps, train_count=len(data.train), batch_size=config.batch_size,
        history=list(resume.history) if resume is not None else None,
    )
    control_callback = ControlCallback(control, progress_callback.history, epochs=config.epochs, steps=steps)
    # (first epoch, end epoch, batches to skip): the rest of a part-done epoch, then whole epochs.
    segments = [(epoch, epoch + 1, step), (epoch + 1, config.epochs, 0)] if step else [(epoch, config.epochs, 0)]
    for first, end, skip in segments:
        if first >= end:
            continue
        batches, extra_callbacks = _train_batches(data, config, first_epoch=first, end_epoch=end, skip=skip)
        progress_callback.first_batch = control_callback.first_batch = skip
        with keras_device(device):
            model.fit(
                batches, validation_data=val, initial_epoch=first, epochs=end, steps_per_epoch=steps - skip,
                shuffle=False, verbose=0, callbacks=[*extra_callbacks, progress_callback, control_callback],
            )
    extra: dict[str, Any] = {
        "keras_backend": backend_name(),
        "jit_compile": str(model.jit_compile),
        "steps_per_execution": model.steps_per_execution,
        "dtype_policy": policy,
        "data_pipeline": "tf.data" if uses_tensorflow() else "keras.utils.PyDataset",
    }
    if resume is not None:
        extra["resumed_from"] = {"epoch": resume.epoch, "step": resume.step}
    return FitResult(model=model, history=progress_callback.history, device=device_label(device),
                     seconds=time.perf_counter() - started, extra=extra)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32, stable for large logits."""
    z = logits.astype(np.float32)
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def predict_proba(model: Any, images: np.ndarray, preprocessing: Preprocessing, *, batch_size: int,
                  device: str) -> np.ndarray:
    """Class probabilities (N, num_classes) float32 in inference mode, a batch at a time."""
    num_classes = int(model.output_shape[-1])
    expected = tuple(model.input_shape[1:])
    size = tuple(preprocessing.input_size)
    if images.ndim != 4 or images.shape[-1] != expected[-1] or (*size, images.shape[-1]) != expected:
        raise ZooError(
            f"the model takes {expected[-1]}x{expected[0]}x{expected[1]} inputs but got images of shape "
            f"{tuple(images.shape)} resized to {size[0]}x{size[1]}; use the preprocessing it was trained with"
        )
    if len(images) == 0:
        return np.zeros((0, num_classes), np.float32)
    batches = _eval_batches(images, None, preprocessing, batch_size=batch_size)
    with keras_device(resolve_device(device)):
        logits = model.predict(batches, verbose=0)
    return softmax(np.asarray(logits, dtype=np.float32))
