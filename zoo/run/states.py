"""Resumable training states: backend-written state files under core-written manifests.

A backend writes its whole training state (model, optimizer, scheduler, random
states) into one file through :meth:`RunControl.save_state`; the core makes that
atomic, records it in ``last.json`` (and ``best.json`` when validation accuracy
improved) with its sha256, and prunes files neither manifest needs. A process
killed at any moment leaves the previous state and its manifest intact.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from zoo.api.atomic import atomic_path, atomic_write_text
from zoo.api.backend import EpochMetrics
from zoo.api.control import ResumePoint, RunControl, StateWriter
from zoo.api.errors import ZooError
from zoo.run.checkpoint import disk_errors, sha256_file

LAST = "last.json"
BEST = "best.json"


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


class StateDirectory:
    """A run's ``state/`` folder: the states a backend saves, under ``last.json`` and ``best.json``.

    ``run_id`` is recorded in the manifests, so that a resume never takes another run's state.
    """

    def __init__(self, directory: Path, run_id: int | None = None) -> None:
        self.directory, self.run_id = directory, run_id

    def save(
        self, *, epoch: int, step: int, history: Sequence[EpochMetrics], writer: StateWriter, suffix: str,
        extra: dict[str, Any] | None = None,
    ) -> Path:
        """Write a state with ``writer(path)`` atomically and record it (see :class:`zoo.api.RunControl`)."""
        with disk_errors(f"cannot save the training state in {self.directory}"):
            return self._save(epoch, step, history, writer, suffix, extra)

    def _save(
        self, epoch: int, step: int, history: Sequence[EpochMetrics], writer: StateWriter, suffix: str,
        extra: dict[str, Any] | None,
    ) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"state-e{epoch:04d}-s{step:06d}{suffix}"
        with atomic_path(path) as temporary:
            writer(temporary)
        val_accuracy = history[-1].val_accuracy if history and step == 0 else None
        manifest = {
            "file": path.name, "sha256": sha256_file(path), "epoch": epoch, "step": step,
            "history": [asdict(m) for m in history], "extra": extra or {}, "val_accuracy": val_accuracy,
            "run_id": self.run_id,
        }
        text = json.dumps(manifest, indent=1)
        atomic_write_text(self.directory / LAST, text)
        best = _manifest(self.directory / BEST)
        if val_accuracy is not None and (best is None or val_accuracy > (best.get("val_accuracy") or -1.0)):
            atomic_write_text(self.directory / BEST, text)
        self._prune()
        return path

    def _prune(self) -> None:
        keep = {(_manifest(self.directory / name) or {}).get("file") for name in (LAST, BEST)}
        # One writer per state directory: hidden temporaries here were left by a killed save.
        for candidate in [*self.directory.glob("state-e*"), *self.directory.glob(".state-e*")]:
            if candidate.name not in keep:
                candidate.unlink(missing_ok=True)


def run_control(directory: Path, *, run_id: int | None = None, save_every: int = 1,
                resume: ResumePoint | None = None) -> RunControl:
    """The :class:`RunControl` of a run whose states go to ``directory``."""
    return RunControl(states=StateDirectory(directory, run_id), save_every=save_every, resume=resume)
