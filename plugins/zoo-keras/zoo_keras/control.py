"""Honouring zoo's :class:`~zoo.resume.RunControl` inside ``model.fit``: states, stops, NaN losses."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from zoo.backend import EpochMetrics
from zoo.errors import NonFiniteLoss, TrainingInterrupted
from zoo_keras.runtime import keras
from zoo_keras.state import SUFFIX, seed_states, write_state

if TYPE_CHECKING:
    from zoo.resume import RunControl


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

    def _save(self, epoch: int, step: int) -> str:
        """Save a state; the words the stop message ends with."""
        if self.control is None:
            return "no state was saved"
        extra: dict[str, Any] = {"format": f"keras{SUFFIX}", "keras_backend": keras.backend.backend(),
                                 "seed_states": seed_states(self.model)}
        path = self.control.save_state(epoch=epoch, step=step, history=list(self.history),
                                       writer=lambda target: write_state(self.model, target), suffix=SUFFIX,
                                       extra=extra)
        return "no state was saved (no state directory)" if path is None else f"its state is in {path.parent}"

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = self.first_batch + batch + 1
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            raise NonFiniteLoss(self._epoch + 1, step, loss)
        if self.control is not None and self.control.stop_requested() and step < self.steps:
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

