"""The training loss: cross-entropy on logits against integer labels, label-smoothed when the recipe asks."""

from __future__ import annotations

from typing import Any

from zoo_keras.runtime import keras


class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy on logits against integer labels turned into smoothed one-hot targets.

    The targets are ``(1 - e) * one_hot + e / classes``, PyTorch's
    ``cross_entropy(label_smoothing=e)``; Keras 3's ``SparseCategoricalCrossentropy``
    has no ``label_smoothing``, and one-hot labels in the pipeline would cost memory and change the metrics.
    """

    def __init__(self, label_smoothing: float, name: str = "smoothed_sparse_crossentropy", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        ops = keras.ops
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        targets = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            targets, y_pred, from_logits=True, label_smoothing=self.label_smoothing
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


class ReplicaShareOfMean(keras.losses.Loss):
    """Under ``tf.distribute`` with several replicas: a replica's share of the global batch's mean loss,
    ``sum(weight * loss over its rows) / sum(weight over all replicas' rows)``, so that the gradients the
    strategy sums over the replicas are those of the whole batch's mean over its real images. Keras' own
    reduction divides each replica's mean by the replica count, which weighs the replicas of a last batch
    filled up with weight-0 rows wrongly (one may hold no real image at all)."""

    def __init__(self, inner: keras.losses.Loss) -> None:
        super().__init__(name=inner.name, reduction="none")
        self.inner = inner

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return self.inner.call(y_true, y_pred)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        import tensorflow as tf

        per_image = self.inner.call(tf.convert_to_tensor(y_true), tf.convert_to_tensor(y_pred, self.inner.dtype))
        weights = tf.ones_like(per_image) if sample_weight is None else tf.cast(
            tf.reshape(sample_weight, tf.shape(per_image)), per_image.dtype)
        total = tf.reduce_sum(weights)
        context = tf.distribute.get_replica_context()
        if context is not None:
            total = context.all_reduce(tf.distribute.ReduceOp.SUM, total)
        return tf.math.divide_no_nan(tf.reduce_sum(per_image * weights), total)


REDUCTION = "mean_with_sample_weight"  # a batch's loss is the mean over its real images (weight 1), not its rows


def training_loss(label_smoothing: float) -> Any:
    """Keras' sparse cross-entropy on logits, or :class:`SmoothedSparseCrossentropy` when ``label_smoothing`` > 0,
    averaged over the images whose sample weight is 1 (filler rows weigh 0); under a ``tf.distribute`` strategy
    with several replicas, each replica's share of that average (:class:`ReplicaShareOfMean`)."""
    if label_smoothing:
        loss = SmoothedSparseCrossentropy(label_smoothing, reduction=REDUCTION)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=REDUCTION)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1:
            return ReplicaShareOfMean(loss)
    return loss


def per_image_loss(loss: Any) -> Any:
    """``fn(y_true, y_pred)`` giving ``loss`` per image, for a metric that averages it over real images."""

    def per_image(y_true: Any, y_pred: Any) -> Any:
        return loss.call(y_true, y_pred)

    return per_image
