"""What crosses the process boundary of ``zoo compare`` and ``zoo bench``: a typed job and its result.

Both are frozen dataclasses with ``to_json`` / ``from_json``: the driver builds a :class:`Job`, a worker
(``zoo.grid.worker``) reads it and answers with a :class:`JobResult`, the same shape for a training
job and a timing job. Settings travel in one place, ``settings`` (what ``zoo train`` calls the recipe
and its runtime options: ``batch_size``, ``precision``, ``device``, ...), for both kinds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

TRAIN, BENCH = "train", "bench"


@dataclass(frozen=True)
class Timing:
    """How the bare steps are timed (``../shared/guide/benchmarks.md``)."""

    steps: int = 40
    warmup: int = 10


@dataclass(frozen=True)
class Job:
    """One model (and seed) for a worker: train or reuse it and time it (``train``), or only time it (``bench``).

    ``settings`` are :class:`zoo.api.TrainConfig` fields that change the model's recipe (unset ones are
    left out); a bench job's ``input_size`` (C, H, W) is the synthetic input, the model's native one if None.
    """

    kind: str
    model: str
    settings: dict[str, Any] = field(default_factory=dict)
    dataset: str | None = None
    data_dir: str | None = None
    rerun: bool = False
    timing: Timing = Timing()
    input_size: tuple[int, int, int] | None = None
    num_classes: int = 10
    train: bool = True
    infer: bool = True
    spawned_at: float | None = None  # set by the pool when it hands the job over

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``json.dumps``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        """The job :meth:`to_json` wrote."""
        values = dict(data)
        values["timing"] = Timing(**values.get("timing", {}))
        if values.get("input_size") is not None:
            values["input_size"] = tuple(values["input_size"])
        return cls(**values)

    @property
    def seed(self) -> int:
        """The seed this job trains with."""
        return int(self.settings.get("seed", 0))


@dataclass(frozen=True)
class JobResult:
    """What a worker answers: a row's figures, or why there are none (``status`` not ``ok``).

    ``metrics`` holds the measured figures under the names the run store uses (``top1``,
    ``train_steady_samples_per_sec``, ``train_bare_samples_per_sec``, ``infer_samples_per_sec``,
    ``param_count``, ``macs``, ...); ``timings`` where this job's seconds went (``start``, ``data``,
    ``compile``, ``train``, ``eval``, ``bench``); ``wall_seconds`` the whole job as the driver saw it.
    """

    status: str
    model: str = ""
    reason: str = ""
    backend: str = ""
    variant: str = ""
    seed: int = 0
    run_id: int | None = None
    source: str = ""  # "measured" (trained now), "reused" (a finished run in the store) or "converted" (zoo convert's)
    origin: str = ""  # a converted run's "converted from torch run 3"
    throughput_source: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    input_size: tuple[int, ...] = ()
    batch_size: int | None = None
    precision: str = ""
    execution: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    worker_pid: int | None = None
    wall_seconds: float = 0.0
    # Where and when the job ran (``time.time()`` of its host), to tell which figures were measured while
    # other jobs shared the same device (``zoo.grid.contention``).
    host: str = ""
    device_share: str = ""
    started_at: float = 0.0
    ended_at: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the job produced its figures."""
        return self.status == "ok"

    @classmethod
    def failed(cls, reason: str, *, status: str = "failed", model: str = "") -> JobResult:
        """A result without figures, saying why."""
        return cls(status=status, model=model, reason=reason)

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``json.dumps``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobResult:
        """The result :meth:`to_json` wrote (unknown keys, from a newer worker, are left out)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "input_size" in values:
            values["input_size"] = tuple(values["input_size"])
        return cls(**values)

    def with_wall(self, seconds: float) -> JobResult:
        """This result with the driver's wall seconds for the whole job."""
        return dataclasses.replace(self, wall_seconds=seconds)


@dataclass(frozen=True)
class RayOptions:
    """How ``zoo compare --executor ray`` reaches its cluster and what each (model, seed) task asks for.

    ``address``: ``None`` starts a local cluster for this comparison, ``"auto"`` joins the one ``ray start``
    runs on this machine, ``ray://HOST:PORT`` a remote one. ``num_gpus``: ``None`` is one GPU per task on a
    cluster that has GPUs, none otherwise. ``num_cpus``: the CPU threads a task may use (and reserves).
    """

    address: str | None = None
    num_gpus: float | None = None
    num_cpus: float = 1.0
