"""A Keras callback that reports training to zoo's :class:`~zoo.backend.TrainingProgress`."""

from __future__ import annotations

import time
from typing import Any

from zoo.backend import EpochMetrics, TrainingProgress
from zoo_keras.runtime import keras, quiet_numpy_copy_warning


def current_lr(optimizer: Any) -> float:
    """The optimizer's learning rate now (a schedule evaluated at the current step)."""
    with quiet_numpy_copy_warning():
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class ProgressCallback(keras.callbacks.Callback):
    """Calls ``progress.start_epoch/advance/end_epoch`` and records :class:`EpochMetrics`.

    ``images_per_sec`` is training images over the training part of the epoch
    (validation excluded); ``seconds`` is the whole epoch, validation included;
    ``lr`` is the rate the epoch trained with (read at its start), as in zoo-torch.
    Pass ``verbose=0`` to ``fit`` so Keras' own bar stays off. ``first_batch``
    is set when an epoch resumes part-way: the bar starts there, and the
    epoch's loss, accuracy and speed cover the batches trained in this process.
    """

    def __init__(
        self,
        progress: TrainingProgress,
        *,
        epochs: int,
        steps: int,
        train_count: int,
        batch_size: int,
        history: list[EpochMetrics] | None = None,
    ) -> None:
        super().__init__()
        self.progress, self.epochs, self.steps, self.train_count = progress, epochs, steps, train_count
        self.batch_size = batch_size
        self.history: list[EpochMetrics] = list(history or [])
        self.first_batch = 0
        self._started = 0.0
        self._train_seconds: float | None = None
        self._done = 0
        self._lr = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._started, self._train_seconds, self._done = time.perf_counter(), None, 0
        self._lr = current_lr(self.model.optimizer)
        self.progress.start_epoch(epoch + 1, self.epochs, self.steps)
        if self.first_batch:
            self.progress.advance(self.first_batch)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # With steps_per_execution > 1, ``batch`` is the last step of the execution.
        if batch + 1 > self._done:
            self.progress.advance(batch + 1 - self._done)
            self._done = batch + 1

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self._train_seconds is None:
            self._train_seconds = time.perf_counter() - self._started

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        seconds = time.perf_counter() - self._started
        train_seconds = self._train_seconds or seconds
        images = self.train_count - self.first_batch * self.batch_size
        val_loss, val_acc = logs.get("val_loss"), logs.get("val_accuracy")
        metrics = EpochMetrics(
            epoch=epoch + 1,
            train_loss=float(logs["loss"]),
            train_accuracy=float(logs["accuracy"]),
            val_loss=None if val_loss is None else float(val_loss),
            val_accuracy=None if val_acc is None else float(val_acc),
            images_per_sec=images / train_seconds if train_seconds > 0 else 0.0,
            seconds=seconds,
            lr=self._lr,
        )
        self.history.append(metrics)
        self.progress.end_epoch(metrics)
