"""Where a run's progress and outcome go: a record in the run store, or nowhere (``record=False``).

The orchestration (``zoo.run.training``) talks to a :class:`Recorder` and never asks whether
there is a store; :class:`NoRecorder` takes every call and keeps nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from zoo.api.backend import EpochMetrics, TrainingProgress
from zoo.run.store import RunStore


class NoRecorder:
    """A run recorded nowhere (library use with ``record=False``)."""

    run_id: int | None = None

    def progress(self, inner: TrainingProgress) -> TrainingProgress:
        """``inner`` as it is: there is nothing to log epochs to."""
        return inner

    def keep_alive(self) -> contextlib.AbstractContextManager[None]:
        """Nothing to beat."""
        return contextlib.nullcontext()

    def end(self, reason: str, status: str) -> None:
        """Nothing to mark."""

    def finish(self, metrics: dict[str, Any], fit_details: dict[str, Any], checkpoint: Any) -> None:
        """Nothing to record."""


class StoreRecorder(NoRecorder):
    """Run ``run_id`` in ``store``: epochs as they end, a heartbeat while it runs, its end and results."""

    def __init__(self, store: RunStore, run_id: int) -> None:
        self.store, self.run_id = store, run_id

    def progress(self, inner: TrainingProgress) -> TrainingProgress:
        """``inner``, with each epoch also written to the store and a heartbeat at each epoch's start."""
        return _RecordingProgress(inner, self.store, self.run_id)

    @contextlib.contextmanager
    def keep_alive(self) -> Iterator[None]:
        """Beat the run's heartbeat while the block runs (a killed run's duration comes from it)."""
        with self.store.keep_alive(self.run_id):
            yield

    def end(self, reason: str, status: str) -> None:
        """Mark the run ended (``failed``, ``interrupted``) without hiding the exception that ended it."""
        with contextlib.suppress(Exception):
            self.store.fail_run(self.run_id, reason, status=status)

    def finish(self, metrics: dict[str, Any], fit_details: dict[str, Any], checkpoint: Any) -> None:
        """Record the scores, what the backend said about the fit, the checkpoint; mark the run finished."""
        self.store.log_metrics(self.run_id, {k: float(v) for k, v in metrics.items()})
        self.store.set_fit_details(self.run_id, fit_details)
        self.store.add_artifact(self.run_id, "checkpoint", str(checkpoint.weights),
                                checkpoint.metadata["weights_sha256"])
        self.store.finish_run(self.run_id)


class _RecordingProgress:
    """Forwards progress and logs each epoch to the run store."""

    def __init__(self, inner: TrainingProgress, store: RunStore, run_id: int) -> None:
        self.inner, self.store, self.run_id = inner, store, run_id

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self.store.heartbeat(self.run_id)
        self.inner.start_epoch(epoch, epochs, steps)

    def advance(self, steps: int = 1) -> None:
        self.inner.advance(steps)

    def end_epoch(self, metrics: EpochMetrics) -> None:
        self.store.log_epoch(self.run_id, metrics)
        self.inner.end_epoch(metrics)


Recorder = NoRecorder  # the type every recorder has
