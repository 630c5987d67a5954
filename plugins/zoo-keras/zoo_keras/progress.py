"""A Keras callback that reports training to zoo's :class:`~zoo.backend.TrainingProgress`."""

from __future__ import annotations

import time
from typing import Any

from zoo.api import EpochMetrics, TrainingProgress
from zoo_keras.callbacks import read
from zoo_keras.runtime import keras, quiet_numpy_copy_warning

WARMUP_STEPS = 3  # the first steps a process trains, left out of the steady-state figure (tracing, compilation)
LOSS_METRIC = "mean_loss"  # the training loss averaged over real images (see training.compile_model)


def current_lr(optimizer: Any) -> float:
    """The optimizer's learning rate now (a schedule evaluated at the current step)."""
    with quiet_numpy_copy_warning():
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class ProgressCallback(keras.callbacks.Callback):
    """Calls ``progress.start_epoch/advance/end_epoch`` and records :class:`EpochMetrics`.

    ``images_per_sec`` is real training images over the training part of the epoch
    (validation excluded); ``seconds`` is the whole epoch, validation included;
    ``lr`` is the rate the epoch trained with (read at its start), as in zoo-torch.
    Pass ``verbose=0`` to ``fit`` so Keras' own bar stays off. ``first_batch``
    is set when an epoch resumes part-way: the bar starts there, and the
    epoch's loss, accuracy and speed cover the batches trained in this process.

    Warm-up: the first epoch this callback sees ends its warm-up at the first batch end at or
    after :data:`WARMUP_STEPS` steps (with ``steps_per_execution`` N, the end of the first
    execution that reaches it); the clock is read there after one wait for the device, and
    ``steady_images_per_sec`` covers the steps after it. The epoch's last batch end waits for
    the device once more, so the training time is the device's, not the dispatcher's. Those
    are the only reads; advancing the bar reads nothing.
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
        self._warm = False  # has this process finished its warm-up steps?
        self._started = self._trained = 0.0
        self._warmup: tuple[int, float] | None = None  # (steps, seconds) of this epoch's warm-up
        self._done = 0
        self._lr = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._lr = current_lr(self.model.optimizer)
        self._trained, self._warmup, self._done = 0.0, None, 0
        self.progress.start_epoch(epoch + 1, self.epochs, self.steps)
        if self.first_batch:
            self.progress.advance(self.first_batch)
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # With steps_per_execution > 1, ``batch`` is the last step of the execution (past the end for a
        # short last execution).
        done = min(batch + 1, self.steps - self.first_batch)
        if done > self._done:
            self.progress.advance(done - self._done)
            self._done = done
        last = self.first_batch + done >= self.steps
        if not self._warm and (done >= WARMUP_STEPS or last):
            read(logs)
            self._warm = True
            self._warmup = (done, time.perf_counter() - self._started)
        if last:
            read(logs)
            self._trained = time.perf_counter() - self._started

    def _real_images(self, first: int, end: int) -> int:
        """Real (not filler) training images in batches ``first .. end - 1`` of an epoch."""
        return max(0, min(self.train_count, end * self.batch_size) - first * self.batch_size)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        seconds = time.perf_counter() - self._started
        trained = self._trained or seconds
        images = self._real_images(self.first_batch, self.steps)
        warmup_steps, warmup_seconds = self._warmup or (0, 0.0)
        steady_images = self._real_images(self.first_batch + warmup_steps, self.steps)
        steady_seconds = trained - warmup_seconds
        steady = steady_images / steady_seconds if steady_images and steady_seconds > 0 else None
        val_loss, val_acc = logs.get(f"val_{LOSS_METRIC}"), logs.get("val_accuracy")
        metrics = EpochMetrics(
            epoch=epoch + 1,
            train_loss=float(logs[LOSS_METRIC]),
            train_accuracy=float(logs["accuracy"]),
            val_loss=None if val_loss is None else float(val_loss),
            val_accuracy=None if val_acc is None else float(val_acc),
            images_per_sec=images / trained if trained > 0 else 0.0,
            seconds=seconds,
            lr=self._lr,
            warmup_steps=warmup_steps,
            warmup_seconds=warmup_seconds,
            steady_images_per_sec=steady,
        )
        self.history.append(metrics)
        self.progress.end_epoch(metrics)
