"""Resumable training state: backend-written state files under a core-written manifest.

A backend writes its whole training state (model, optimizer, scheduler, random
states) into one file through :meth:`RunControl.save_state`; the core makes that
atomic, records it in ``last.json`` (and ``best.json`` when validation accuracy
improved) with its sha256, and prunes files neither manifest needs. A process
killed at any moment leaves the previous state and its manifest intact.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo.atomic import atomic_path, atomic_write_text
from zoo.backend import EpochMetrics
from zoo.checkpoint import disk_errors, sha256_file
from zoo.errors import ZooError

LAST = "last.json"
BEST = "best.json"


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


def _manifest(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ZooError(f"{path} is damaged ({exc}); delete it to start over") from None
    return data if isinstance(data, dict) else None


def load_resume_point(state_dir: Path, which: str = LAST) -> ResumePoint | None:
    """The state recorded in ``state_dir/which`` after checking its file's sha256, or None."""
    manifest = _manifest(state_dir / which)
    if manifest is None:
        return None
    path = state_dir / Path(str(manifest.get("file", ""))).name
    if not path.is_file() or sha256_file(path) != manifest.get("sha256"):
        raise ZooError(f"training state {path} is missing or damaged; it cannot be resumed (start a new run)")
    history = tuple(EpochMetrics(**item) for item in manifest.get("history", []))
    run_id = manifest.get("run_id")
    return ResumePoint(path, int(manifest["epoch"]), int(manifest.get("step", 0)), history,
                       dict(manifest.get("extra", {})), manifest.get("val_accuracy"),
                       run_id if isinstance(run_id, int) else None)


@dataclass
class RunControl:
    """How a backend's ``fit`` saves, resumes and stops. Given to ``fit`` by the core.

    Backends check :meth:`stop_requested` between steps; when it is true they
    save a state (through :meth:`save_state`) and raise
    :class:`zoo.errors.TrainingInterrupted`. At the end of epochs where
    :meth:`should_save` says so they save a state too. When ``resume`` is set
    they restore it and continue from ``resume.epoch`` / ``resume.step``.
    """

    state_dir: Path | None = None
    save_every: int = 1
    resume: ResumePoint | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    run_id: int | None = None  # recorded in the manifests, so that a resume never takes another run's state

    def stop_requested(self) -> bool:
        """Whether the user asked training to stop (Ctrl-C, SIGTERM)."""
        return self.stop.is_set()

    def should_save(self, epoch: int, epochs: int) -> bool:
        """Save after ``epoch``? Every ``save_every`` epochs, and always after the last."""
        if self.state_dir is None:
            return False
        return epoch == epochs or (self.save_every > 0 and epoch % self.save_every == 0)

    def save_state(
        self,
        *,
        epoch: int,
        step: int,
        history: list[EpochMetrics] | tuple[EpochMetrics, ...],
        writer: Callable[[Path], None],
        suffix: str,
        extra: dict[str, Any] | None = None,
    ) -> Path | None:
        """Write a state with ``writer(path)`` atomically and record it as the last one
        (and the best one, at an epoch boundary with the best validation accuracy so far)."""
        if self.state_dir is None:
            return None
        with disk_errors(f"cannot save the training state in {self.state_dir}"):
            return self._save(epoch, step, history, writer, suffix, extra)

    def _save(
        self,
        epoch: int,
        step: int,
        history: list[EpochMetrics] | tuple[EpochMetrics, ...],
        writer: Callable[[Path], None],
        suffix: str,
        extra: dict[str, Any] | None,
    ) -> Path:
        assert self.state_dir is not None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / f"state-e{epoch:04d}-s{step:06d}{suffix}"
        with atomic_path(path) as temporary:
            writer(temporary)
        val_accuracy = history[-1].val_accuracy if history and step == 0 else None
        manifest = {
            "file": path.name, "sha256": sha256_file(path), "epoch": epoch, "step": step,
            "history": [asdict(m) for m in history], "extra": extra or {}, "val_accuracy": val_accuracy,
            "run_id": self.run_id,
        }
        text = json.dumps(manifest, indent=1)
        atomic_write_text(self.state_dir / LAST, text)
        best = _manifest(self.state_dir / BEST)
        if val_accuracy is not None and (best is None or val_accuracy > (best.get("val_accuracy") or -1.0)):
            atomic_write_text(self.state_dir / BEST, text)
        self._prune()
        return path

    def _prune(self) -> None:
        assert self.state_dir is not None
        keep = {(_manifest(self.state_dir / name) or {}).get("file") for name in (LAST, BEST)}
        # One writer per state directory: hidden temporaries here were left by a killed save.
        for candidate in [*self.state_dir.glob("state-e*"), *self.state_dir.glob(".state-e*")]:
            if candidate.name not in keep:
                candidate.unlink(missing_ok=True)
