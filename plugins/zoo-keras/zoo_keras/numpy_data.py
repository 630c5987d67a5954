"""Numpy batches for Keras on JAX or PyTorch, where tf.data is not the native path.

The same preprocessing and augmentation as :mod:`zoo_keras.data`, a batch at a
time from the uint8 arrays, through a ``keras.utils.PyDataset``: seeded shuffle
redrawn every epoch, normalisation, bilinear resize (``keras.ops.image.resize``)
when the model's input differs from the images, pad + random crop + random
horizontal flip + cutout per sample.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zoo.backend import Augmentation, Preprocessing
from zoo_keras.runtime import keras


def normalize(images: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """uint8 NHWC -> float32 ``(x / 255 - mean) / std``, resized to the model's input size."""
    mean = np.asarray(preprocessing.mean, np.float32)
    std = np.asarray(preprocessing.std, np.float32)
    x = (images.astype(np.float32) * np.float32(1 / 255) - mean) / std
    if x.shape[1:3] != tuple(preprocessing.input_size):
        resized = keras.ops.image.resize(x, preprocessing.input_size, interpolation="bilinear", antialias=False)
        x = keras.ops.convert_to_numpy(resized).astype(np.float32)
    return x


def augment(x: np.ndarray, rng: np.random.Generator, augmentation: Augmentation) -> np.ndarray:
    """``augmentation`` applied per sample to a float NHWC batch: crop and flip, then cutout."""
    if augmentation.crop_padding or augmentation.horizontal_flip:
        x = crop_flip(x, rng, augmentation)
    if augmentation.cutout:
        x = cutout(x, rng, augmentation.cutout)
    return x


def crop_flip(x: np.ndarray, rng: np.random.Generator, augmentation: Augmentation) -> np.ndarray:
    """Per-sample zero-pad + random crop and random horizontal flip of a float NHWC batch."""
    pad = augmentation.crop_padding
    batch, height, width = x.shape[:3]
    top = rng.integers(0, 2 * pad + 1, batch)
    left = rng.integers(0, 2 * pad + 1, batch)
    columns = np.broadcast_to(np.arange(width), (batch, width))
    if augmentation.horizontal_flip:
        columns = np.where((rng.random(batch) < 0.5)[:, None], width - 1 - columns, columns)
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    rows = top[:, None] + np.arange(height)
    columns = left[:, None] + columns
    return x[np.arange(batch)[:, None, None], rows[:, :, None], columns[:, None, :]]


def cutout(x: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Zero a ``size`` x ``size`` square per sample, its centre drawn anywhere in the image (clipped at the edges)."""
    batch, height, width = x.shape[:3]
    top = rng.integers(0, height, (batch, 1)) - size // 2
    left = rng.integers(0, width, (batch, 1)) - size // 2
    rows = np.arange(height) - top
    columns = np.arange(width) - left
    inside = ((rows >= 0) & (rows < size))[:, :, None] & ((columns >= 0) & (columns < size))[:, None, :]
    return np.where(inside[..., None], np.float32(0), x)


class ArrayBatches(keras.utils.PyDataset):
    """Batches of ``(x, y)`` (or ``x`` alone when ``labels`` is None) from uint8 arrays.

    ``training``: shuffle and augment, with randomness drawn from (seed, epoch,
    batch), so any epoch can be rebuilt on resume; otherwise in order, as is.
    ``epoch`` is set by :class:`EpochSetter` (Keras' own ``on_epoch_end`` calls
    do not line up with epochs); ``first_batch`` skips the start of an epoch.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray | None,
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
        self.images, self.labels = images, labels
        self.preprocessing, self.augmentation = preprocessing, augmentation or Augmentation()
        self.batch_size, self.training, self.seed = batch_size, training, seed
        self.first_batch = first_batch
        self._order: tuple[int, np.ndarray] | None = None
        self.epoch = epoch

    def order(self) -> np.ndarray:
        """Example indices of the current epoch, in training order."""
        if not self.training:
            return np.arange(len(self.images))
        if self._order is None or self._order[0] != self.epoch:
            self._order = (self.epoch, np.random.default_rng([self.seed, self.epoch]).permutation(len(self.images)))
        return self._order[1]

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size) - self.first_batch

    def __getitem__(self, index: int) -> Any:
        batch = index + self.first_batch
        chosen = self.order()[batch * self.batch_size : (batch + 1) * self.batch_size]
        x = normalize(self.images[chosen], self.preprocessing)
        if self.training:
            x = augment(x, np.random.default_rng([self.seed, self.epoch, batch]), self.augmentation)
        if self.labels is None:
            return (x,)
        return x, self.labels[chosen].astype(np.int32)


class EpochSetter(keras.callbacks.Callback):
    """Tells an :class:`ArrayBatches` which epoch is starting."""

    def __init__(self, batches: ArrayBatches) -> None:
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.batches.epoch = epoch
