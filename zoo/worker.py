"""One model's share of ``zoo compare`` / ``zoo bench``, run in a worker process.

``python -m zoo.worker JOB.json RESULT.json`` runs one job; ``python -m zoo.worker --serve``
runs one job per line of ``JOB.json<TAB>RESULT.json`` on stdin, keeping its framework
imported from one model to the next (``zoo.pool``). A crash, an out-of-memory kill or a
plugin error here costs the comparison one row, not the whole table, and TensorFlow and
PyTorch never share a process or fight over a GPU.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.atomic import atomic_write_text
from zoo.backend import BenchConfig, Throughput
from zoo.errors import ZooError

if TYPE_CHECKING:
    from zoo.config import TrainConfig

# With a steady-state figure from the run, the bare training step only sets the loop efficiency's scale:
# time this many steps (after this many warm-up steps) instead of --bench-steps and --bench-warmup.
BARE_STEPS_WITH_STEADY = 10
BARE_WARMUP_WITH_STEADY = 2


def _input_shape(
    spec: Any, dataset: str | None, explicit: list[int] | None, config: TrainConfig
) -> tuple[int, int, int]:
    from zoo.models import training_input_size
    from zoo.registry import get_registry

    if explicit:
        c, h, w = explicit
        return c, h, w
    if dataset is None:
        return spec.input_size
    data_h, data_w, channels = get_registry().dataset(dataset).spec.shape
    return (channels, *training_input_size(spec, (data_h, data_w), config.image_size, config.min_image_size))


def _bench_config(job: dict[str, Any], shape: tuple[int, int, int], num_classes: int, config: Any) -> BenchConfig:
    bench = job.get("bench", {})
    return BenchConfig(
        input_shape=shape, num_classes=num_classes, batch_size=bench.get("batch_size") or config.batch_size,
        device=config.device, precision=config.precision, compile=bool(config.compile),
        compile_mode=config.compile_mode,
        channels_last=config.channels_last, warmup_steps=bench.get("warmup", 10), timed_steps=bench.get("steps", 40),
        train=bench.get("train", True), infer=bench.get("infer", True),
    )


def _throughput(backend: Any, spec: Any, job: dict[str, Any], shape: tuple[int, int, int], num_classes: int,
                config: Any) -> dict[str, Any]:
    return _measure(backend, spec, _bench_config(job, shape, num_classes, config))


def _measure(backend: Any, spec: Any, bench: BenchConfig) -> dict[str, Any]:
    results: list[Throughput] = backend.benchmark(spec, bench)
    out: dict[str, Any] = {}
    for item in results:
        out[f"{item.mode}_samples_per_sec"] = item.samples_per_sec
        out[f"{item.mode}_step_time"] = item.median_step_seconds * 1000
        out[f"{item.mode}_batch_size"] = item.batch_size
        out["device"] = item.device
        out["channels_last"] = item.channels_last
        out["compiled"] = item.compiled
        if item.note:
            out[f"{item.mode}_note"] = item.note
    return out


def _bare_step(backend: Any, spec: Any, job: dict[str, Any], shape: tuple[int, int, int], num_classes: int,
               config: Any, execution: str | None, steady: bool) -> dict[str, Any]:
    """Time the bare training step (as the run executed it) and inference; the training figures renamed
    ``train_bare_*``. With a ``steady`` figure from the run, the training step gets fewer steps."""
    base = replace(_bench_config(job, shape, num_classes, config), execution=execution)
    if steady:
        parts = [replace(base, infer=False, timed_steps=min(base.timed_steps, BARE_STEPS_WITH_STEADY),
                         warmup_steps=min(base.warmup_steps, BARE_WARMUP_WITH_STEADY)),
                 replace(base, train=False)]
    else:
        parts = [base]
    measured: dict[str, Any] = {}
    for part in parts:
        measured.update(_measure(backend, spec, part))
        if part.train:
            measured["train_steps"] = part.timed_steps
    return {k.replace("train_", "train_bare_", 1) if k.startswith("train_") else k: v for k, v in measured.items()}


def _run_phases(metrics: dict[str, float]) -> dict[str, float]:
    """Where a run trained in this worker spent its seconds: data, compile/warm-up, the training steps after
    it, evaluation (validation and test). Building the model, saving states and checkpoints are not named."""
    compile_s = metrics.get("compile_seconds", 0.0)
    return {"data": metrics.get("data_seconds", 0.0), "compile": compile_s,
            "train": max(0.0, metrics.get("train_loop_seconds", 0.0) - compile_s),
            "eval": metrics.get("val_seconds", 0.0) + metrics.get("test_seconds", 0.0)}


def run_train_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train (or reuse a finished run), then measure throughput and size of one model.

    ``result["timings"]`` says where this worker's seconds went: ``start`` (from the parent's spawn to
    here: interpreter, imports, plugins, the reuse lookup), then ``data``, ``compile``, ``train`` and
    ``eval`` of a run trained now (zero for a reused one), and ``bench`` (bare-step timing, summary).
    """
    from rich.console import Console

    from zoo.config import TrainConfig
    from zoo.data.datasets import dataset_identity
    from zoo.environment import core_environment
    from zoo.models import get_backend
    from zoo.progress import RichTrainingProgress
    from zoo.registry import get_registry
    from zoo.runs import RunStore
    from zoo.training import reuse_key, train

    spec = get_registry().model(job["model"]).spec
    dataset = get_registry().dataset(job["dataset"]).spec
    config = TrainConfig.build(spec.recipe, job.get("overrides"))
    backend = get_backend(spec.backend)
    environment = {**core_environment(), **backend.environment(config.device)}
    key = reuse_key(spec.name, dataset_identity(dataset), config.recipe(), environment)
    store = RunStore()
    record = None if job.get("rerun") else store.find_finished(key)
    started = time.perf_counter()
    timings = {"start": max(0.0, time.time() - job["spawned_at"])} if job.get("spawned_at") else {}
    if record is None:
        label = f"{spec.name} seed {config.seed}"
        result = train(spec.name, dataset.name, config, data_dir=job.get("data_dir"),
                       progress=RichTrainingProgress(Console(stderr=True), label=label))
        record = store.get(result.run_id)
        source = "measured"
        timings.update(_run_phases(record.metrics))
    else:
        source = "reused"
    metrics = dict(record.metrics)
    if "train_bare_samples_per_sec" not in metrics and "train_samples_per_sec" in metrics:
        # Stored before issue 24: the bare step's figure under the name zoo bench uses.
        metrics.update({k.replace("train_", "train_bare_", 1): v for k, v in metrics.items()
                        if k in ("train_samples_per_sec", "train_step_time", "train_batch_size")})
    shape = _input_shape(spec, dataset.name, None, config)  # what the run trained at
    bench_started = time.perf_counter()
    if "train_bare_samples_per_sec" not in metrics or job.get("rerun"):
        measured = _bare_step(backend, spec, job, shape, dataset.num_classes, config, record.execution,
                              steady="train_steady_samples_per_sec" in metrics)
        numeric = {k: float(v) for k, v in measured.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        store.log_metrics(record.id, numeric)
        metrics.update(numeric)
        throughput_source = "measured"
    else:
        throughput_source = source
    if "param_count" not in metrics:
        summary = backend.summarize(spec, num_classes=dataset.num_classes, input_shape=shape)
        store.log_metrics(record.id, {"param_count": float(summary.param_count), "macs": float(summary.macs)})
        metrics.update(param_count=summary.param_count, macs=summary.macs)
    timings["bench"] = time.perf_counter() - bench_started
    return {
        "status": "ok", "model": spec.name, "backend": spec.backend, "variant": spec.variant,
        "seed": config.seed, "run_id": record.id, "source": source, "throughput_source": throughput_source,
        "metrics": metrics, "history": record.epochs, "img_size": list(shape),
        "batch_size": config.batch_size, "precision": config.precision, "execution": record.execution,
        "environment": record.environment, "wall_seconds": time.perf_counter() - started,
        "recipe": config.recipe(), "timings": timings, "worker_pid": os.getpid(),
    }


def run_bench_job(job: dict[str, Any]) -> dict[str, Any]:
    """Time one model on synthetic inputs."""
    from zoo.config import TrainConfig
    from zoo.environment import core_environment
    from zoo.models import get_backend
    from zoo.registry import get_registry

    spec = get_registry().model(job["model"]).spec
    overrides = job.get("overrides", {})
    config = TrainConfig.build(overrides)
    backend = get_backend(spec.backend)
    shape = _input_shape(spec, None, job.get("input_shape"), config)
    from zoo.models import check_input_size

    check_input_size(spec, shape[1:])
    started = time.perf_counter()
    num_classes = job.get("num_classes", 1000)
    measured = _throughput(backend, spec, job, shape, num_classes, config)
    summary = backend.summarize(spec, num_classes=num_classes, input_shape=shape)
    return {
        "status": "ok", "model": spec.name, "backend": spec.backend, "variant": spec.variant,
        "img_size": list(shape), "precision": config.precision, "param_count": summary.param_count,
        "macs": summary.macs, "environment": {**core_environment(), **backend.environment(config.device)},
        "wall_seconds": time.perf_counter() - started, **measured,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the job in ``argv[0]``, write the result to ``argv[1]``; exit 0 on success.
    ``--serve``: run the jobs named on stdin's lines until it ends (130 on Ctrl-C)."""
    args = argv if argv is not None else sys.argv[1:]
    if args[:1] == ["--serve"]:
        return serve()
    job_path, result_path = args[:2]
    return run_job(job_path, result_path)


def serve() -> int:
    """One job per stdin line (``JOB.json<TAB>RESULT.json``), in this process, until stdin ends."""
    try:
        for line in sys.stdin:
            job_path, _, result_path = line.rstrip("\n").partition("\t")
            if run_job(job_path, result_path) == 130:
                return 130
    except KeyboardInterrupt:  # Ctrl-C between jobs
        return 130
    return 0


def run_job(job_path: str, result_path: str) -> int:
    """Run the job in ``job_path`` and write its result to ``result_path``: 0 when it succeeded,
    1 when it failed (the result says why), 130 when interrupted (no result)."""
    job = json.loads(Path(job_path).read_text())
    runner = run_bench_job if job.get("kind") == "bench" else run_train_job
    try:
        result = runner(job)
        code = 0
    except ZooError as exc:
        result, code = {"status": "failed", "reason": str(exc)}, 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        result, code = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}, 1
    atomic_write_text(result_path, json.dumps(result, default=str))
    return code


if __name__ == "__main__":
    sys.exit(main())
