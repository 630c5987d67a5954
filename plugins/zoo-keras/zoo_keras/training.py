"""``fit`` and ``predict_proba``: Keras' own ``model.fit``/``model.predict`` on zoo's arrays.

Execution settings, measured on a 2-core CPU and chosen per backend and device
(``docs/keras.md``): XLA (``jit_compile``) off on the CPU under TensorFlow, where it was
slower, and on for GPUs or when ``--compile`` asks for it (JAX always compiles);
``steps_per_execution`` from :func:`steps_per_execution`; the ``mixed_bfloat16`` policy
when the precision is ``bf16``, on a GPU or on a CPU with bf16 units (about 1.6x faster than
fp32 on this machine's AMX CPU), logits in float32.

Every batch of a run has one shape (the last one filled up at sample weight 0: see
:mod:`zoo_keras.device_data`), so each step function is traced and compiled once. The loss
is averaged over the real images of a batch (``mean_with_sample_weight``), and the epoch's
loss and accuracy are weighted means over real images (``weighted_metrics``), so every image
counts once whatever the batch it is in.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.api import FitResult, Preprocessing, TrainConfig, TrainingData, TrainingProgress, UsageError, ZooError
from zoo_keras import data as tfdata
from zoo_keras.callbacks import LazyLogs
from zoo_keras.compile_cache import cache_counts
from zoo_keras.control import ControlCallback
from zoo_keras.device_data import DeviceArrays, DeviceBatches, EpochSetter
from zoo_keras.losses import per_image_loss, training_loss
from zoo_keras.optim import make_optimizer
from zoo_keras.progress import LOSS_METRIC, ProgressCallback
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
from zoo_keras.summary import summarize

if TYPE_CHECKING:
    from zoo.api import RunControl

# Steps per call of Keras' step function (docs/keras.md, "Execution settings"). Keras' per-call
# host work (its fit loop, callbacks; on TensorFlow a tf.function call, on JAX its carried state
# re-tracked as a model attribute) cost 2-5 ms a step on the 2-core CPU, about what lenet5-keras'
# whole step costs, and an execution of 16 steps cut it by half or more. Executions are kept to
# about EXECUTION_MACS multiply-accumulates (forward, whole batches), so that progress and stop
# requests stay within a fraction of a second: large models run one step per call, where the
# overhead is negligible anyway. PyTorch allows only 1.
MAX_STEPS_PER_EXECUTION = 16
EXECUTION_MACS = {"cpu": 4e9, "gpu": 400e9}


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


STEPS_PER_EXECUTION_VARIABLE = "ZOO_KERAS_STEPS_PER_EXECUTION"  # a fixed number instead of the rule below


def steps_per_execution(device: str, step_macs: float) -> int:
    """Training steps per call of Keras' step function, for a step of ``step_macs`` forward MACs
    (``ZOO_KERAS_STEPS_PER_EXECUTION=N`` fixes it, e.g. 1 for stops and progress at every step)."""
    if backend_name() == "torch" or _mirrored():
        return 1
    fixed = os.environ.get(STEPS_PER_EXECUTION_VARIABLE, "").strip()
    if fixed:
        if not fixed.isdigit() or int(fixed) < 1:
            raise UsageError(f"{STEPS_PER_EXECUTION_VARIABLE}={fixed} must be a positive whole number")
        return int(fixed)
    budget = EXECUTION_MACS["cpu" if device == "cpu" else "gpu"]
    return max(1, min(MAX_STEPS_PER_EXECUTION, int(budget // max(step_macs, 1.0))))


def _mirrored() -> bool:
    """Whether a ``tf.distribute`` strategy with several replicas is in scope. Keras 3's multi-step loop
    fails under one (its ``tf.cond`` around a replica step: "You must feed a value for placeholder tensor",
    keras-team/keras#19246, open), so such runs take one step per execution."""
    if not uses_tensorflow():
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1


def compile_model(model: Any, config: TrainConfig, steps_per_epoch: int, device: str,
                  execution_steps: int = 1) -> None:
    """Compile for training: the configured optimizer, cross-entropy on logits (label-smoothed as the recipe
    says; the validation loss too, as zoo-torch's) averaged over the real images of each batch, and the
    epoch's accuracy and loss as weighted means over real images."""
    loss = training_loss(config.label_smoothing)
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss=loss,
        weighted_metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras.metrics.MeanMetricWrapper(per_image_loss(loss), name=LOSS_METRIC),
        ],
        jit_compile=jit_compile(config.compile, device),
        steps_per_execution=execution_steps,
    )


def _eval_batches(images: np.ndarray, labels: np.ndarray | None, preprocessing: Preprocessing, *,
                  batch_size: int) -> Any:
    """In-order batches of one shape: tf.data on TensorFlow, batches made on the device on the other backends."""
    if uses_tensorflow():
        return tfdata.evaluation_dataset(images, labels, preprocessing, batch_size=batch_size)
    return DeviceBatches(DeviceArrays(images, labels), preprocessing, batch_size=batch_size)


def _train_batches(data: TrainingData, arrays: DeviceArrays | None, config: TrainConfig, *, first_epoch: int,
                   end_epoch: int, skip: int) -> tuple[Any, list[Any]]:
    """Training batches for epochs ``first_epoch .. end_epoch - 1`` (skipping ``skip`` batches of the
    first), and the callbacks they need."""
    train, prep = data.train, data.preprocessing
    if arrays is None:
        counter = tfdata.EpochCounter(first_epoch)
        stream = tfdata.training_dataset(
            train.images, train.labels, prep, data.augmentation, batch_size=config.batch_size, seed=config.seed,
            epoch=counter, skip_batches=skip,
        )
        return stream, [EpochSetter(counter)]
    batches = DeviceBatches(arrays, prep, batch_size=config.batch_size, augmentation=data.augmentation,
                            training=True, seed=config.seed, epoch=first_epoch, first_batch=skip)
    return batches, [EpochSetter(batches)]


def _check_resumable(resume: Any) -> None:
    """A state saved under one Keras backend resumes under the same one."""
    saved = resume.extra.get("keras_backend")
    if saved and saved != backend_name():
        raise UsageError(
            f"this run's state was saved with Keras on {saved}; resume it with --keras-backend {saved} "
            f"(now {backend_name()})"
        )


def fit(build: Any, data: TrainingData, config: TrainConfig, progress: TrainingProgress,
        control: RunControl | None = None) -> FitResult:
    """Build a model with ``build(num_classes, in_chans, img_size)`` and train it with ``model.fit``.

    With ``control.resume`` the weights, optimizer state and dropout seeds come from
    the saved state and training continues at its epoch and step; an epoch resumed
    part-way is trained by its own ``fit`` call, the remaining epochs by a second one.
    """
    from zoo_keras.parallel import data_parallel

    with data_parallel(config.batch_size) as parallel:
        result = _fit(build, data, config, progress, control)
    result.extra.update(parallel)
    return result


def _fit(build: Any, data: TrainingData, config: TrainConfig, progress: TrainingProgress,
         control: RunControl | None) -> FitResult:
    started, cache_before = time.perf_counter(), cache_counts()
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
        model = build(num_classes=data.num_classes, in_chans=prep.in_chans, img_size=prep.img_size)
        macs = summarize(model, (prep.in_chans, *prep.img_size)).macs
        compile_model(model, config, steps, device, steps_per_execution(device, macs * config.batch_size))
    resume = control.resume if control is not None else None
    epoch, step = 0, 0
    if resume is not None:
        _check_resumable(resume)
        with keras_device(device):
            read_state(model, resume.path, resume.extra.get("seed_states"))
        epoch, step = resume.epoch, resume.step
    val = None
    if data.val is not None and len(data.val):
        val = _eval_batches(data.val.images, data.val.labels, prep, batch_size=config.batch_size)
    arrays = None if uses_tensorflow() else DeviceArrays(data.train.images, data.train.labels)
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
        batches, extra_callbacks = _train_batches(data, arrays, config, first_epoch=first, end_epoch=end,
                                                  skip=skip)
        progress_callback.first_batch = control_callback.first_batch = skip
        callbacks = LazyLogs([*extra_callbacks, progress_callback, control_callback], add_history=True, model=model,
                             epochs=end, steps=steps - skip, verbose=0)
        with keras_device(device):
            model.fit(
                batches, validation_data=val, initial_epoch=first, epochs=end, steps_per_epoch=steps - skip,
                shuffle=False, verbose=0, callbacks=callbacks,
            )
    extra: dict[str, Any] = {
        "keras_backend": backend_name(),
        "jit_compile": str(model.jit_compile),
        "steps_per_execution": model.steps_per_execution,
        "dtype_policy": policy,
        "data_pipeline": "tf.data" if uses_tensorflow() else "device batches",
    }
    if cache_before is not None and (cache_after := cache_counts()) is not None:
        extra["compile_cache"] = {"hits": cache_after[0] - cache_before[0], "misses": cache_after[1] - cache_before[1]}
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
    size = tuple(preprocessing.img_size)
    if images.ndim != 4 or images.shape[-1] != expected[-1] or (*size, images.shape[-1]) != expected:
        raise ZooError(
            f"the model takes {expected[-1]}x{expected[0]}x{expected[1]} inputs but got images of shape "
            f"{tuple(images.shape)} resized to {size[0]}x{size[1]}; use the preprocessing it was trained with"
        )
    if len(images) == 0:
        return np.zeros((0, num_classes), np.float32)
    batches = _eval_batches(images, None, preprocessing, batch_size=batch_size)
    _one_step_per_prediction(model)
    with keras_device(resolve_device(device)):
        logits = model.predict(batches, verbose=0, callbacks=LazyLogs([], model=model))
    return softmax(np.asarray(logits, dtype=np.float32)[: len(images)])


def _one_step_per_prediction(model: Any) -> None:
    """Make ``model`` predict one batch per call of its predict function, from now on.

    With several steps per execution, Keras' predict function takes a list of batches (on
    TensorFlow) or joins each execution's outputs with a jitted concatenation (on JAX), and a
    shorter last execution traces or compiles it again; prediction is a small share of a run,
    so one batch per call keeps it at one trace and one compile. Training is over when a
    model predicts here (``fit`` returns it), so its setting is not put back.
    """
    if getattr(model, "steps_per_execution", 1) != 1:
        model.steps_per_execution, model.predict_function = 1, None
