"""The tf.data adapter: zoo's uint8 NHWC arrays in, normalised float batches out.

Training pipeline: the uint8 arrays become two tensors once (no float copy, no
resized copy); each epoch is ``from_tensor_slices`` over a permutation of the
example indices drawn statelessly from (seed, epoch), filled up to a whole number of batches
(the filler at sample weight 0, so every batch has the same static shape and each step
function is traced once; see :mod:`zoo_keras.device_data`), ``batch``, one parallel
``map`` per batch (gather the batch, cast, ``(x / 255 - mean) / std``, bilinear
resize when the model's input size differs from the images', augmentation);
one epoch per pass (Keras iterates the dataset anew each epoch, and an :class:`EpochCounter`
says which epoch the pass is); ``prefetch`` overlaps it with the training step.

This is the tutorial pipeline (``from_tensor_slices``, ``cache``, ``shuffle``
with ``reshuffle_each_iteration``, ``batch``, ``map``, ``prefetch``) with two
changes, both measured or needed: shuffling indices and gathering whole
batches replaces per-example slicing and a shuffle buffer holding the whole
dataset, and an order that is a pure function of (seed, epoch) lets a resumed
run rebuild any epoch without replaying the earlier ones (tf.data's reshuffle
state cannot be saved).

Augmentation has zoo-torch's semantics: per sample, pad by ``crop_padding``
zeros (after normalisation), take a random crop of the original size, flip
horizontally with probability 0.5, then zero a ``cutout`` square centred
anywhere in the image. Its randomness is stateless too, drawn from
(seed, epoch, batch index).

Used only when Keras runs on TensorFlow; :mod:`zoo_keras.device_data` feeds
the other backends.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.api import Augmentation, Preprocessing

AUTOTUNE = -1  # tf.data.AUTOTUNE


def _tf() -> Any:
    import tensorflow as tf

    return tf


def normalize(images: Any, preprocessing: Preprocessing) -> Any:
    """uint8 NHWC batch -> float32 ``(x / 255 - mean) / std``, resized to the model's input size."""
    tf = _tf()
    mean = tf.constant(preprocessing.mean, tf.float32)
    std = tf.constant(preprocessing.std, tf.float32)
    x = (tf.cast(images, tf.float32) * (1.0 / 255.0) - mean) / std
    if tuple(x.shape[1:3]) != tuple(preprocessing.img_size):
        x = tf.image.resize(x, preprocessing.img_size, method="bilinear", antialias=False)
    return x


def augment(x: Any, seed: Any, augmentation: Augmentation) -> Any:
    """``augmentation`` applied per sample to a float NHWC batch: crop and flip, then cutout.

    ``seed`` is a stateless seed (shape [2] int64); cutout draws from a seed folded from it,
    so adding it leaves the crops and flips of the same seed as they were.
    """
    tf = _tf()
    if augmentation.crop_padding or augmentation.horizontal_flip:
        x = crop_flip(x, seed, augmentation)
    if augmentation.cutout:
        x = cutout(x, tf.random.experimental.stateless_fold_in(seed, 1), augmentation.cutout)
    return x


def crop_flip(x: Any, seed: Any, augmentation: Augmentation) -> Any:
    """Per-sample zero-pad + random crop and random horizontal flip of a float NHWC batch.

    One gather per axis does
    crop and flip together: row ``i`` of sample ``b`` is padded row ``top[b] + i``;
    column ``j`` is ``left[b] + j`` (or ``left[b] + W - 1 - j`` when the sample is flipped).
    """
    tf = _tf()
    pad = augmentation.crop_padding
    batch = tf.shape(x)[0]
    height, width = int(x.shape[1]), int(x.shape[2])
    seeds = tf.random.experimental.stateless_split(seed, 3)
    top = tf.random.stateless_uniform([batch], seeds[0], minval=0, maxval=2 * pad + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([batch], seeds[1], minval=0, maxval=2 * pad + 1, dtype=tf.int32)
    columns = tf.range(width)[tf.newaxis, :]
    if augmentation.horizontal_flip:
        flip = tf.random.stateless_uniform([batch], seeds[2]) < 0.5
        columns = tf.where(flip[:, tf.newaxis], width - 1 - columns, columns)
    if pad:
        x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    rows = top[:, tf.newaxis] + tf.range(height)[tf.newaxis, :]
    columns = left[:, tf.newaxis] + columns
    x = tf.gather(x, rows, axis=1, batch_dims=1)
    return tf.gather(x, columns, axis=2, batch_dims=1)


def cutout(x: Any, seed: Any, size: int) -> Any:
    """Zero a ``size`` x ``size`` square per sample, its centre drawn anywhere in the image (clipped at the edges)."""
    tf = _tf()
    batch = tf.shape(x)[0]
    height, width = int(x.shape[1]), int(x.shape[2])
    seeds = tf.random.experimental.stateless_split(seed, 2)
    top = tf.random.stateless_uniform([batch, 1], seeds[0], minval=0, maxval=height, dtype=tf.int32) - size // 2
    left = tf.random.stateless_uniform([batch, 1], seeds[1], minval=0, maxval=width, dtype=tf.int32) - size // 2
    rows = tf.range(height)[tf.newaxis, :] - top
    columns = tf.range(width)[tf.newaxis, :] - left
    inside = ((rows >= 0) & (rows < size))[:, :, tf.newaxis] & ((columns >= 0) & (columns < size))[:, tf.newaxis, :]
    return tf.where(inside[:, :, :, tf.newaxis], tf.zeros_like(x), x)


EPOCH_STRIDE = 1_000_003  # keeps (epoch, batch) seed pairs apart


def _filled(positions: Any, count: int, batch_size: int) -> tuple[Any, Any]:
    """``positions`` (a pass over ``count`` items) wrapped round to a whole number of batches, and the
    sample weights: 1 for each item's one real appearance, 0 for the filler (see :mod:`zoo_keras.device_data`)."""
    tf = _tf()
    total = -(-count // batch_size) * batch_size
    slots = tf.range(total)
    return tf.gather(positions, slots % count), tf.cast(slots < count, tf.float32)


class EpochCounter:
    """The epoch a :func:`training_dataset` yields, read by tf.data each time the dataset is iterated.

    Keras iterates a finite dataset anew at every epoch; setting ``epoch`` before (as
    :class:`~zoo_keras.device_data.EpochSetter` does) makes that pass the next epoch.
    """

    def __init__(self, epoch: int) -> None:
        tf = _tf()
        with tf.device("/CPU:0"):
            self.variable = tf.Variable(epoch, dtype=tf.int64, trainable=False)

    @property
    def epoch(self) -> int:
        return int(self.variable.numpy())

    @epoch.setter
    def epoch(self, value: int) -> None:
        self.variable.assign(value)


def training_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    preprocessing: Preprocessing,
    augmentation: Augmentation,
    *,
    batch_size: int,
    seed: int,
    epoch: int | EpochCounter,
    skip_batches: int = 0,
) -> Any:
    """One epoch of shuffled, augmented ``(x, y, sample_weight)`` batches, every one ``batch_size`` long
    (the last filled up at weight 0), ``skip_batches`` of its first batches dropped (resuming mid-epoch).

    One epoch per pass, so that Keras' ``steps_per_execution`` never reads into the next epoch's
    batches; with an :class:`EpochCounter`, each pass is the epoch it says at the pass's start.
    """
    tf = _tf()
    with tf.device("/CPU:0"):
        pixels = tf.constant(images)
        targets = tf.constant(labels.astype(np.int32))
    count = len(labels)
    active = augmentation.active
    run_seed = tf.constant(seed, tf.int64)
    counter = epoch.variable if isinstance(epoch, EpochCounter) else tf.constant(epoch, tf.int64)

    def one_epoch(epoch: Any) -> Any:
        order = tf.random.experimental.stateless_shuffle(tf.range(count), seed=tf.stack([run_seed, epoch]))

        def transform(index: Any, batch: Any) -> Any:
            chosen, weights = batch
            x = normalize(tf.gather(pixels, chosen), preprocessing)
            if active:
                x = augment(x, tf.stack([run_seed, epoch * EPOCH_STRIDE + index]), augmentation)
            return x, tf.gather(targets, chosen), weights

        filled = tf.data.Dataset.from_tensor_slices(_filled(order, count, batch_size))
        return filled.batch(batch_size, drop_remainder=True).enumerate().map(transform, num_parallel_calls=AUTOTUNE)

    ds = tf.data.Dataset.range(1).map(lambda _: tf.identity(counter)).flat_map(one_epoch)
    if skip_batches:
        ds = ds.skip(skip_batches)
    steps = -(-count // batch_size) - skip_batches
    return ds.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(AUTOTUNE)


def evaluation_dataset(
    images: np.ndarray, labels: np.ndarray | None, preprocessing: Preprocessing, *, batch_size: int
) -> Any:
    """Batches in order, normalised, not augmented, all ``batch_size`` long: ``(x, y, sample_weight)`` with
    labels, ``(x,)`` without (the last batch filled up from the start; drop the filler's outputs)."""
    tf = _tf()
    count = len(images)
    with tf.device("/CPU:0"):
        pixels = tf.constant(images)
        targets = None if labels is None else tf.constant(labels.astype(np.int32))
    filled = tf.data.Dataset.from_tensor_slices(_filled(tf.range(count), count, batch_size))
    batches = filled.batch(batch_size, drop_remainder=True)
    if targets is None:
        ds = batches.map(lambda chosen, _: (normalize(tf.gather(pixels, chosen), preprocessing),),
                         num_parallel_calls=AUTOTUNE)
    else:
        ds = batches.map(
            lambda chosen, weights: (normalize(tf.gather(pixels, chosen), preprocessing), tf.gather(targets, chosen),
                                     weights),
            num_parallel_calls=AUTOTUNE,
        )
    return ds.prefetch(AUTOTUNE)
