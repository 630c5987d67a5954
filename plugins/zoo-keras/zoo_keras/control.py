"""Honouring zoo's :class:`~zoo.resume.RunControl` inside ``model.fit``: states, stops, NaN losses.

A stop request is a host-side flag, checked at every batch end (every execution with
``steps_per_execution`` > 1) without touching the device. The running loss is read, and so
waited for, every :data:`~zoo_keras.callbacks.NAN_CHECK_EVERY` steps, at the epoch's last
step and before a state is saved: Keras' running mean turns NaN with the first NaN step
and stays so, so no step goes unchecked.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from zoo.api import EpochMetrics, NonFiniteLoss, TrainingInterrupted
from zoo_keras.callbacks import NAN_CHECK_EVERY, read, sync_model_state
from zoo_keras.runtime import keras
from zoo_keras.state import SUFFIX, seed_states, write_state

if TYPE_CHECKING:
    from zoo.api import RunControl


class ControlCallback(keras.callbacks.Callback):
    """Saves resumable states when ``control`` asks, stops between steps, refuses NaN losses.

    Runs after :class:`~zoo_keras.progress.ProgressCallback`, whose ``history``
    it shares, so an epoch's state includes that epoch's metrics.
    """

    def __init__(self, control: RunControl | None, history: list[EpochMetrics], *, epochs: int, steps: int) -> None:
        super().__init__()
        self.control, self.history, self.epochs, self.steps = control, history, epochs, steps
        self.first_batch = 0
        self._epoch = 0
        self._checked = 0  # the last step whose running loss was read

    def _save(self, epoch: int, step: int) -> str:
        """Save a state; the words the stop message ends with."""
        if self.control is None:
            return "no state was saved"
        sync_model_state(self.model)
        extra: dict[str, Any] = {"format": f"keras{SUFFIX}", "keras_backend": keras.backend.backend(),
                                 "seed_states": seed_states(self.model)}
        path = self.control.save_state(epoch=epoch, step=step, history=list(self.history),
                                       writer=lambda target: write_state(self.model, target), suffix=SUFFIX,
                                       extra=extra)
        return "no state was saved (no state directory)" if path is None else f"its state is in {path.parent}"

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch, self._checked = epoch, self.first_batch

    def _check_loss(self, step: int, logs: dict[str, Any] | None) -> None:
        loss = read(logs)
        self._checked = step
        if not math.isfinite(loss):
            raise NonFiniteLoss(self._epoch + 1, step, loss)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = min(self.first_batch + batch + 1, self.steps)  # a short last execution reports past the end
        if step - self._checked >= NAN_CHECK_EVERY or step >= self.steps:
            self._check_loss(step, logs)
        if self.control is not None and self.control.stop_requested() and step < self.steps:
            self._check_loss(step, logs)
            saved = self._save(self._epoch, step)
            raise TrainingInterrupted(
                f"training stopped at epoch {self._epoch + 1}, step {step} of {self.steps}; {saved}",
                epoch=self._epoch, step=step,
            )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        done = epoch + 1
        if self.control is None:
            return
        saved = "no state was saved"
        if self.control.should_save(done, self.epochs) or self.control.stop_requested():
            saved = self._save(done, 0)
        if self.control.stop_requested() and done < self.epochs:
            raise TrainingInterrupted(
                f"training stopped after epoch {done} of {self.epochs}; {saved}",
                epoch=done, step=0,
            )

