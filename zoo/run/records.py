"""What the run store holds about a run, as readers see it: statuses, epochs, the record itself."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.api.errors import UsageError

if TYPE_CHECKING:
    from zoo.api.epochs import EpochMetrics

STORED_STATUSES = ("running", "finished", "failed", "interrupted")
STATUSES = (*STORED_STATUSES, "crashed")
# A run that stopped before its end may continue from its last saved state (zoo train --resume).
RESUMABLE_STATUSES = ("interrupted", "crashed", "failed")
_EPOCH_INTEGERS = ("epoch", "warmup_steps")
_EPOCH_DEFAULTS = {"warmup_steps": 0, "warmup_seconds": 0.0}  # an epoch logged without them (older backends)
EPOCH_FIELDS = (
    "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "images_per_sec", "seconds", "lr",
    "warmup_steps", "warmup_seconds", "steady_images_per_sec",
)


def require_resumable(run_id: int, status: str) -> None:
    """Refuse to continue a run whose (effective) status is not one that stopped before its end."""
    if status not in RESUMABLE_STATUSES:
        raise UsageError(f"run {run_id} is {status}; only an interrupted, crashed or failed run can be resumed")


def utc_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class RunRecord:
    """One recorded run as readers see it.

    ``status`` is the effective status (``crashed`` for a ``running`` run whose
    process is gone); timestamps are ISO 8601 UTC text; ``epochs`` are dicts
    with the :class:`~zoo.api.EpochMetrics` fields, in epoch order.
    """

    id: int
    model: str
    backend: str
    dataset: str
    recipe: dict[str, Any]
    environment: dict[str, Any]
    reuse_key: str
    status: str
    reason: str | None
    output_dir: str | None
    started: str
    finished: str | None
    epochs: list[dict[str, Any]]
    metrics: dict[str, float]
    artifacts: list[dict[str, Any]]
    pid: int | None = None
    hostname: str | None = None
    heartbeat: str | None = None
    execution: str | None = None  # how the backend ran the steps (e.g. eager, cuda-graphs); None before it said
    fit_details: dict[str, Any] = field(default_factory=dict)  # FitResult.extra: notes, where a resume started

    @property
    def converted_from(self) -> dict[str, Any] | None:
        """Where a run ``zoo convert`` registered came from (source run, checkpoint, backend), else None."""
        origin = self.fit_details.get("converted_from")
        return origin if isinstance(origin, dict) else None

    @property
    def origin(self) -> str:
        """``converted from torch run 3`` (or ``... from torch checkpoint NAME``) for a converted run, else ``""``."""
        origin = self.converted_from
        if origin is None:
            return ""
        source = (f"run {origin['run_id']}" if origin.get("run_id") is not None
                  else f"checkpoint {Path(str(origin.get('path', '?'))).name}")
        return f"converted from {origin.get('backend', '')} {source}".replace("  ", " ")

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish; to now while running; to the last heartbeat if crashed."""
        start = parse_time(self.started)
        if start is None:
            return None
        if self.finished:
            end = parse_time(self.finished)
        elif self.status == "running":
            end = datetime.now(timezone.utc)
        else:
            end = parse_time(self.heartbeat)
        return None if end is None else max(0.0, (end - start).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON, with ``duration`` in seconds."""
        data = asdict(self)
        data["duration"] = self.duration
        return data


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (POSIX; assumed alive elsewhere)."""
    if sys.platform == "win32" or pid <= 0:
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def epoch_values(metrics: EpochMetrics | Mapping[str, Any]) -> tuple[Any, ...]:
    """An epoch's values in :data:`EPOCH_FIELDS` order, as the store's ``epochs`` table holds them."""
    get = metrics.get if isinstance(metrics, Mapping) else lambda name: getattr(metrics, name, None)
    values: list[Any] = []
    for name in EPOCH_FIELDS:
        value = get(name)
        if value is None:
            value = _EPOCH_DEFAULTS.get(name)
        values.append(None if value is None else int(value) if name in _EPOCH_INTEGERS else float(value))
    return tuple(values)
