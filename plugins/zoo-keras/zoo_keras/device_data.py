"""Batches made on the device, for Keras on JAX or PyTorch (TensorFlow has :mod:`zoo_keras.data`).

The uint8 images and the labels go to the device once (:class:`DeviceArrays`), and so does,
once per epoch, the epoch's plan: per batch and image, its index, its sample weight and the
random numbers its augmentation uses (:func:`pass_plan`). Per step only the batch number
crosses; on the device one function (``jax.jit``-compiled on JAX, eager on PyTorch) takes the
batch's row of the plan, gathers the batch, casts it,
normalises it (``(x / 255 - mean) / std``), resizes it bilinearly when the model's input size
differs from the images' (``keras.ops.image.resize``, no antialiasing, half-pixel centres:
``tf.image.resize``'s and PyTorch's ``interpolate(align_corners=False)``), and augments it.
Nothing image-sized is copied to or from the host per step.

Every batch has the same shape, so each compiled function is compiled once per run: the last
batch of an epoch (and of a validation or prediction pass) is filled up to the batch size with
images from the start of the same pass, whose sample weight is 0 (:func:`batch_positions`).
They count for nothing in the loss, the metrics or the gradient; BatchNorm in training mode
does normalise over the whole batch, filler included (real images of the same pass, so the
statistics are those of a full batch of the same data).

Augmentation has zoo-torch's semantics: per sample, pad by ``crop_padding`` zeros (after
normalisation), take a random crop of the original size, flip horizontally with probability
0.5, then zero a ``cutout`` square centred anywhere in the image. The epoch's order (a
permutation) and its random numbers are drawn on the host from (seed, epoch), so a resumed run
rebuilds any batch exactly.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.api import Augmentation, Preprocessing
from zoo_keras.runtime import backend_name, keras

ops = keras.ops


@dataclass(frozen=True)
class AugmentationDraw:
    """The random numbers one batch's augmentation uses, one row per image (host numpy arrays)."""

    top: np.ndarray  # (B,) crop offsets into the padded image
    left: np.ndarray
    flip: np.ndarray  # (B,) bool
    cut_top: np.ndarray  # (B, 1) cutout square's top-left corner (may lie outside the image)
    cut_left: np.ndarray

    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.top, self.left, self.flip, self.cut_top, self.cut_left


def draw_augmentation(rng: np.random.Generator, batch: int, size: tuple[int, int],
                      augmentation: Augmentation) -> AugmentationDraw:
    """Random crop offsets, flips and cutout corners for ``batch`` images of ``size`` (H, W), in one draw."""
    pad, (height, width) = augmentation.crop_padding, size
    highs = np.array([2 * pad + 1, 2 * pad + 1, 2 if augmentation.horizontal_flip else 1, height, width])
    top, left, flip, cut_top, cut_left = rng.integers(0, highs, (batch, len(highs)), dtype=np.int32).T
    half = augmentation.cutout // 2
    return AugmentationDraw(top, left, flip.astype(bool), cut_top[:, None] - half, cut_left[:, None] - half)


def normalize(images: Any, preprocessing: Preprocessing) -> Any:
    """uint8 NHWC batch -> float32 ``(x / 255 - mean) / std``, resized to the model's input size."""
    mean = np.asarray(preprocessing.mean, np.float32)
    std = np.asarray(preprocessing.std, np.float32)
    x = (ops.cast(images, "float32") * np.float32(1 / 255) - mean) / std
    if tuple(x.shape[1:3]) != tuple(preprocessing.img_size):
        x = ops.image.resize(x, tuple(preprocessing.img_size), interpolation="bilinear", antialias=False)
    return x


def augment(x: Any, draw: Any, augmentation: Augmentation) -> Any:
    """``augmentation`` applied per sample to a float NHWC batch: crop and flip, then cutout.

    ``draw`` holds :class:`AugmentationDraw`'s five arrays (host or device).
    """
    top, left, flip, cut_top, cut_left = draw
    if augmentation.crop_padding or augmentation.horizontal_flip:
        x = crop_flip(x, top, left, flip, augmentation.crop_padding)
    if augmentation.cutout:
        x = cutout(x, cut_top, cut_left, augmentation.cutout)
    return x


def crop_flip(x: Any, top: Any, left: Any, flip: Any, pad: int) -> Any:
    """Per-sample zero-pad + crop at (``top``, ``left``) + horizontal flip where ``flip``, as one gather.

    Pixel (i, j) of sample b is padded pixel (top[b] + i, left[b] + j), or column
    left[b] + W - 1 - j when the sample is flipped: flat indices into the padded batch.
    """
    batch, height, width, channels = (int(d) for d in x.shape)
    if pad:
        x = ops.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    rows = ops.expand_dims(ops.cast(top, "int32"), 1) + ops.arange(height, dtype="int32")[None, :]
    columns = ops.arange(width, dtype="int32")[None, :]
    columns = ops.where(ops.expand_dims(flip, 1), width - 1 - columns, columns)
    columns = ops.expand_dims(ops.cast(left, "int32"), 1) + columns
    padded_h, padded_w = height + 2 * pad, width + 2 * pad
    samples = ops.arange(batch, dtype="int32")[:, None, None] * (padded_h * padded_w)
    flat = samples + rows[:, :, None] * padded_w + columns[:, None, :]
    pixels = ops.take(ops.reshape(x, (-1, channels)), ops.reshape(flat, (-1,)), axis=0)
    return ops.reshape(pixels, (batch, height, width, channels))


def cutout(x: Any, cut_top: Any, cut_left: Any, size: int) -> Any:
    """Zero a ``size`` x ``size`` square per sample whose top-left corner is (``cut_top``, ``cut_left``)."""
    height, width = int(x.shape[1]), int(x.shape[2])
    rows = ops.arange(height, dtype="int32")[None, :] - ops.cast(cut_top, "int32")
    columns = ops.arange(width, dtype="int32")[None, :] - ops.cast(cut_left, "int32")
    inside_rows = ops.logical_and(rows >= 0, rows < size)[:, :, None]
    inside = ops.logical_and(inside_rows, ops.logical_and(columns >= 0, columns < size)[:, None, :])
    return ops.where(inside[:, :, :, None], ops.zeros_like(x), x)


def num_batches(count: int, batch_size: int) -> int:
    """Batches in a pass over ``count`` items, the last one filled up."""
    return math.ceil(count / batch_size)


PLAN_COLUMNS = ("index", "weight", "top", "left", "flip", "cut_top", "cut_left")


def pass_plan(order: np.ndarray, batch_size: int, *, rng: np.random.Generator | None = None,
              size: tuple[int, int] = (1, 1), augmentation: Augmentation | None = None) -> np.ndarray:
    """One pass over ``order`` (example indices) as int32 ``(batches, batch_size, columns)``.

    Columns: :data:`PLAN_COLUMNS` with ``rng`` (a training epoch), else only index and weight.
    Every batch has ``batch_size`` rows: past the end, positions wrap to the pass's start with
    weight 0, so each example has weight 1 exactly once per pass.
    """
    count = len(order)
    batches = num_batches(count, batch_size)
    positions = np.arange(batches * batch_size)
    columns = [order[positions % count].astype(np.int32), (positions < count).astype(np.int32)]
    if rng is not None:
        draw = draw_augmentation(rng, len(positions), size, augmentation or Augmentation())
        columns += [draw.top, draw.left, draw.flip.astype(np.int32), draw.cut_top[:, 0], draw.cut_left[:, 0]]
    return np.stack(columns, axis=1).reshape(batches, batch_size, len(columns))


def _compile(function: Callable[..., Any]) -> Callable[..., Any]:
    """``jax.jit`` on JAX; PyTorch (and TensorFlow, in tests) run the function eagerly."""
    if backend_name() == "jax":
        import jax

        return jax.jit(function)
    return function


def _rows(plan: Any, batch: Any) -> tuple[Any, Any, Any]:
    """Batch ``batch`` of a plan: (its rows, their example indices, their float32 sample weights)."""
    rows = ops.take(plan, batch, axis=0)
    return rows, rows[:, 0], ops.cast(rows[:, 1], "float32")


@functools.cache
def training_batch_function(preprocessing: Preprocessing, augmentation: Augmentation) -> Callable[..., Any]:
    """``f(images, labels, plan, batch) -> (x, y, sample_weight)`` on the device, compiled once per process
    and setting."""

    def training_batch(images: Any, labels: Any, plan: Any, batch: Any) -> tuple[Any, Any, Any]:
        rows, indices, weights = _rows(plan, batch)
        x = normalize(ops.take(images, indices, axis=0), preprocessing)
        if augmentation.active:
            draw = (rows[:, 2], rows[:, 3], rows[:, 4] > 0, rows[:, 5:6], rows[:, 6:7])
            x = augment(x, draw, augmentation)
        return x, ops.take(labels, indices, axis=0), weights

    return _compile(training_batch)


@functools.cache
def evaluation_batch_function(preprocessing: Preprocessing, labelled: bool) -> Callable[..., Any]:
    """``f(images, labels, plan, batch) -> (x, y, sample_weight)`` (``labelled``) or ``f(images, plan, batch)
    -> x`` on the device: gathered and normalised, not augmented."""

    def evaluation_batch(images: Any, labels: Any, plan: Any, batch: Any) -> tuple[Any, Any, Any]:
        _, indices, weights = _rows(plan, batch)
        return normalize(ops.take(images, indices, axis=0), preprocessing), ops.take(labels, indices, axis=0), weights

    def prediction_batch(images: Any, plan: Any, batch: Any) -> Any:
        _, indices, _ = _rows(plan, batch)
        return normalize(ops.take(images, indices, axis=0), preprocessing)

    return _compile(evaluation_batch if labelled else prediction_batch)


def to_device(array: np.ndarray) -> Any:
    """``array`` on the Keras backend's default device (on JAX a plain transfer: no op to compile)."""
    array = np.ascontiguousarray(array)
    if backend_name() == "jax":
        import jax

        return jax.device_put(array)
    return ops.convert_to_tensor(array)


class DeviceArrays:
    """uint8 images (and int32 labels) copied to the Keras backend's device once."""

    def __init__(self, images: np.ndarray, labels: np.ndarray | None) -> None:
        self.count = len(images)
        self.images = to_device(images)
        self.labels = None if labels is None else to_device(labels.astype(np.int32))


class DeviceBatches(keras.utils.PyDataset):
    """Fixed-shape batches ``(x, y, sample_weight)`` (or ``(x,)`` without labels) made on the device.

    ``training``: the order is a seeded permutation redrawn every epoch and the batches are
    augmented, with randomness drawn from (seed, epoch), so any epoch can be rebuilt on resume;
    otherwise in order, as is. ``epoch`` is set by :class:`EpochSetter` (Keras' own
    ``on_epoch_end`` calls do not line up with epochs); ``first_batch`` skips the start of an epoch.
    """

    def __init__(
        self,
        arrays: DeviceArrays,
        preprocessing: Preprocessing,
        *,
        batch_size: int,
        augmentation: Augmentation | None = None,
        training: bool = False,
        seed: int = 0,
        epoch: int = 0,
        first_batch: int = 0,
    ) -> None:
        super().__init__()
        self.arrays, self.preprocessing = arrays, preprocessing
        self.augmentation = augmentation or Augmentation()
        self.batch_size, self.training, self.seed = batch_size, training, seed
        self.first_batch, self.epoch = first_batch, epoch
        self._plan: tuple[int, np.ndarray, Any] | None = None  # (epoch, host plan, device plan)
        if training:
            self._make = training_batch_function(preprocessing, self.augmentation)
        else:
            self._make = evaluation_batch_function(preprocessing, arrays.labels is not None)

    def plan(self) -> np.ndarray:
        """The current epoch's plan (host copy): ``(batches, batch_size, columns)``, see :func:`pass_plan`."""
        return self._current()[1]

    def _current(self) -> tuple[int, np.ndarray, Any]:
        epoch = self.epoch if self.training else 0
        if self._plan is None or self._plan[0] != epoch:
            count = self.arrays.count
            if self.training:
                rng = np.random.default_rng([self.seed, epoch])
                plan = pass_plan(rng.permutation(count), self.batch_size, rng=rng,
                                 size=self.preprocessing.img_size, augmentation=self.augmentation)
            else:
                plan = pass_plan(np.arange(count), self.batch_size)
            self._plan = (epoch, plan, to_device(plan))
        return self._plan

    def __len__(self) -> int:
        return num_batches(self.arrays.count, self.batch_size) - self.first_batch

    def __getitem__(self, index: int) -> Any:
        batch = np.int32(index + self.first_batch)
        plan, arrays = self._current()[2], self.arrays
        if arrays.labels is None:
            return (self._make(arrays.images, plan, batch),)
        return self._make(arrays.images, arrays.labels, plan, batch)


class EpochSetter(keras.callbacks.Callback):
    """Tells a :class:`DeviceBatches` (or a tf.data :class:`~zoo_keras.data.EpochCounter`) which epoch is
    starting."""

    def __init__(self, batches: Any) -> None:
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.batches.epoch = epoch
