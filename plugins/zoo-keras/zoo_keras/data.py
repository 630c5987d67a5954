"""The tf.data adapter: zoo's uint8 NHWC arrays in, normalised float batches out.

Training pipeline: ``from_tensor_slices`` on the uint8 arrays, ``cache``,
seeded ``shuffle`` (reshuffled every epoch), ``batch``, one parallel ``map``
per batch (cast, ``(x / 255 - mean) / std``, bilinear resize when the model's
input size differs from the images', then the augmentation), ``prefetch``.
The images stay uint8 in memory (a quarter of float32) and are converted a
batch at a time, overlapping with the training step, so a resized copy of
the whole dataset is never made.

Augmentation has zoo-torch's semantics: per sample, pad by ``crop_padding``
zeros (after normalisation), take a random crop of the original size, flip
horizontally with probability 0.5. Its randomness comes from a seeded
``Dataset.random`` stream that is redrawn every epoch, so a run is
reproducible but each epoch sees new crops.

Used only when Keras runs on TensorFlow; :mod:`zoo_keras.numpy_data` feeds
the other backends.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.backend import Augmentation, Preprocessing

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
    if tuple(x.shape[1:3]) != tuple(preprocessing.input_size):
        x = tf.image.resize(x, preprocessing.input_size, method="bilinear", antialias=False)
    return x


def augment(x: Any, seed: Any, augmentation: Augmentation) -> Any:
    """Per-sample zero-pad + random crop and random horizontal flip of a float NHWC batch.

    One gather per axis does crop and flip together: row ``i`` of sample ``b``
    is padded row ``top[b] + i``; column ``j`` is ``left[b] + j`` (or
    ``left[b] + W - 1 - j`` when the sample is flipped).
    """
    tf = _tf()
    pad = augmentation.crop_padding
    if pad == 0 and not augmentation.horizontal_flip:
        return x
    batch = tf.shape(x)[0]
    height, width = int(x.shape[1]), int(x.shape[2])
    seeds = tf.random.experimental.stateless_split(tf.stack([seed, tf.constant(0, tf.int64)]), 3)
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


def training_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    preprocessing: Preprocessing,
    augmentation: Augmentation,
    *,
    batch_size: int,
    seed: int,
) -> Any:
    """Shuffled, augmented, prefetched ``(x, y)`` batches for ``model.fit``."""
    tf = _tf()
    ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32))).cache()
    ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    active = augmentation.crop_padding > 0 or augmentation.horizontal_flip
    if active:
        noise = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, noise).map(
            lambda batch, s: (augment(normalize(batch[0], preprocessing), s, augmentation), batch[1]),
            num_parallel_calls=AUTOTUNE,
        )
    else:
        ds = ds.map(lambda x, y: (normalize(x, preprocessing), y), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def evaluation_dataset(
    images: np.ndarray, labels: np.ndarray | None, preprocessing: Preprocessing, *, batch_size: int
) -> Any:
    """Batches in order, normalised, not augmented: ``(x, y)`` with labels, ``x`` without."""
    tf = _tf()
    if labels is None:
        ds = tf.data.Dataset.from_tensor_slices(images).batch(batch_size)
        ds = ds.map(lambda x: normalize(x, preprocessing), num_parallel_calls=AUTOTUNE)
    else:
        ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32))).cache().batch(batch_size)
        ds = ds.map(lambda x, y: (normalize(x, preprocessing), y), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)
