"""How the core steers a backend's ``fit``: where states go, when to save, when to stop, where to resume.

The backend writes its whole training state (model, optimizer, scheduler, random states)
through :meth:`RunControl.save_state`; the core's :class:`StateSink` makes the write atomic
and keeps the manifests (``zoo.run.states``). A backend never writes a manifest itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from zoo.api.epochs import EpochMetrics

StateWriter = Callable[[Path], None]


@dataclass(frozen=True)
class ResumePoint:
    """A saved training state: ``epoch`` epochs done plus ``step`` batches of the next one."""

    path: Path
    epoch: int
    step: int
    history: tuple[EpochMetrics, ...]
    extra: dict[str, Any]
    val_accuracy: float | None = None
    run_id: int | None = None  # the run that saved it (None: saved before zoo recorded it)


class StateSink(Protocol):
    """Where a run's resumable states go; the core provides it (``zoo.run.states.StateDirectory``)."""

    directory: Path

    def save(
        self, *, epoch: int, step: int, history: Sequence[EpochMetrics], writer: StateWriter, suffix: str,
        extra: dict[str, Any] | None,
    ) -> Path:
        """Write a state with ``writer(path)`` atomically, record it, and return its path."""


@dataclass
class RunControl:
    """How a backend's ``fit`` saves, resumes and stops. Given to ``fit`` by the core.

    Backends check :meth:`stop_requested` between steps; when it is true they
    save a state (through :meth:`save_state`) and raise
    :class:`zoo.api.TrainingInterrupted`. At the end of epochs where
    :meth:`should_save` says so they save a state too. When ``resume`` is set
    they restore it and continue from ``resume.epoch`` / ``resume.step``.
    """

    states: StateSink | None = None
    save_every: int = 1
    resume: ResumePoint | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def saves_states(self) -> bool:
        """Whether states are kept at all (a library ``fit`` without a run keeps none)."""
        return self.states is not None

    @property
    def state_dir(self) -> Path | None:
        """The folder states go to (None: none are kept)."""
        return self.states.directory if self.states is not None else None

    def stop_requested(self) -> bool:
        """Whether the user asked training to stop (Ctrl-C, SIGTERM)."""
        return self.stop.is_set()

    def should_save(self, epoch: int, epochs: int) -> bool:
        """Save after ``epoch``? Every ``save_every`` epochs, and always after the last."""
        if self.states is None:
            return False
        return epoch == epochs or (self.save_every > 0 and epoch % self.save_every == 0)

    def save_state(
        self,
        *,
        epoch: int,
        step: int,
        history: Sequence[EpochMetrics],
        writer: StateWriter,
        suffix: str,
        extra: dict[str, Any] | None = None,
    ) -> Path | None:
        """Write a state with ``writer(path)`` and record it as the last one (and the best one, at an
        epoch boundary with the best validation accuracy so far); None when no states are kept."""
        if self.states is None:
            return None
        return self.states.save(epoch=epoch, step=step, history=history, writer=writer, suffix=suffix, extra=extra)
