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


REDUCTION = "mean_with_sample_weight"  # a batch's loss is the mean over its real images (weight 1), not its rows


def training_loss(label_smoothing: float) -> Any:
    """Keras' sparse cross-entropy on logits, or :class:`SmoothedSparseCrossentropy` when ``label_smoothing`` > 0,
    averaged over the images whose sample weight is 1 (filler rows weigh 0)."""
    if label_smoothing:
        return SmoothedSparseCrossentropy(label_smoothing, reduction=REDUCTION)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=REDUCTION)


def per_image_loss(loss: Any) -> Any:
    """``fn(y_true, y_pred)`` giving ``loss`` per image, for a metric that averages it over real images."""

    def per_image(y_true: Any, y_pred: Any) -> Any:
        return loss.call(y_true, y_pred)

    return per_image
