"""One model's share of ``zoo compare`` / ``zoo bench``, run in a worker process.

``python -m zoo.grid.worker JOB.json RESULT.json`` runs one :class:`~zoo.grid.jobs.Job`;
``python -m zoo.grid.worker --serve`` runs one job per line of ``JOB.json<TAB>RESULT.json`` on
stdin, keeping its framework imported from one model to the next (``zoo.grid.pool``). A crash,
an out-of-memory kill or a plugin error here costs the comparison one row, not the whole table,
and TensorFlow and PyTorch never share a process or fight over a GPU.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.api.atomic import atomic_write_text
from zoo.api.backend import Backend, BenchConfig, Throughput
from zoo.api.config import TrainConfig
from zoo.api.errors import ZooError
from zoo.api.specs import ModelSpec
from zoo.grid.jobs import BENCH, Job, JobResult

if TYPE_CHECKING:
    from zoo.run.records import RunRecord

Finder = Callable[[str], "RunRecord | None"]

# With a steady-state figure from the run, the bare training step only sets the loop efficiency's scale:
# time this many steps (after this many warm-up steps) instead of --bench-steps and --bench-warmup.
BARE_STEPS_WITH_STEADY = 10
BARE_WARMUP_WITH_STEADY = 2


def _bench_config(job: Job, input_size: tuple[int, int, int], num_classes: int, config: TrainConfig) -> BenchConfig:
    return BenchConfig(
        input_size=input_size, num_classes=num_classes, batch_size=config.batch_size, device=config.device,
        precision=config.precision, compile=bool(config.compile), compile_mode=config.compile_mode,
        channels_last=config.channels_last, warmup_steps=job.timing.warmup, timed_steps=job.timing.steps,
        train=job.train, infer=job.infer,
    )


def step_spread(mode: str, step_seconds: Sequence[float], batch_size: int) -> dict[str, float]:
    """The spread of ``mode``'s timed steps as images per second: the slowest step's (``_min``), the fastest's
    (``_max``), and the interquartile range over the median in percent (``_iqr_pct``). Empty for no steps."""
    if not step_seconds:
        return {}
    rates = sorted(batch_size / seconds for seconds in step_seconds if seconds > 0)
    if not rates:
        return {}
    if len(rates) > 1:
        low, _, high = statistics.quantiles(rates, n=4, method="inclusive")
    else:
        low = high = rates[0]
    median = statistics.median(rates)
    return {f"{mode}_samples_per_sec_min": rates[0], f"{mode}_samples_per_sec_max": rates[-1],
            f"{mode}_iqr_pct": 100 * (high - low) / median, f"{mode}_timed_steps": len(rates)}


def _measure(backend: Backend, spec: ModelSpec, bench: BenchConfig) -> dict[str, Any]:
    results: list[Throughput] = backend.benchmark(spec, bench)
    out: dict[str, Any] = {}
    for item in results:
        out[f"{item.mode}_samples_per_sec"] = item.samples_per_sec
        out[f"{item.mode}_step_time"] = item.median_step_seconds * 1000
        out.update(step_spread(item.mode, item.step_seconds, item.batch_size))
        out[f"{item.mode}_batch_size"] = item.batch_size
        out["device"] = item.device
        out["channels_last"] = item.channels_last
        out["compiled"] = item.compiled
        if item.note:
            out[f"{item.mode}_note"] = item.note
    return out


def _bare_step(backend: Backend, spec: ModelSpec, base: BenchConfig, steady: bool) -> dict[str, Any]:
    """Time the bare training step (as the run executed it) and inference; the training figures renamed
    ``train_bare_*``. With a ``steady`` figure from the run, the training step gets fewer steps."""
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
    """Where a run trained in this worker spent its seconds: compile/warm-up, the training steps after it,
    evaluation (validation and test). Saving states and checkpoints are not named."""
    compile_s = metrics.get("compile_seconds", 0.0)
    return {"compile": compile_s,
            "train": max(0.0, metrics.get("train_loop_seconds", 0.0) - compile_s),
            "eval": metrics.get("val_seconds", 0.0) + metrics.get("test_seconds", 0.0)}


def _compile_cache_share(fit_details: dict[str, Any]) -> dict[str, float]:
    """``compile_cache_hits_pct``: the share of the fit's compiled programs a backend loaded from its persistent
    compilation cache (``fit_details["compile_cache"]``: hits and misses); nothing without such a cache."""
    cache = fit_details.get("compile_cache")
    if not isinstance(cache, dict):
        return {}
    hits, misses = int(cache.get("hits", 0)), int(cache.get("misses", 0))
    return {"compile_cache_hits_pct": 100.0 * hits / (hits + misses)} if hits + misses else {}


def device_share() -> str:
    """What this process shares with others on its host: the GPUs it sees, or the CPU."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    return f"cuda:{visible}" if visible and visible != "-1" else "cpu"


def run_train_job(job: Job, finished: Finder | None = None) -> JobResult:
    """Train (or reuse a finished run), then measure throughput and size of one model.

    ``timings`` says where this worker's seconds went: ``start`` (from the parent's spawn until the run
    is planned: interpreter, imports, plugins), ``data`` (loading it, and building the model once for its
    fingerprint), then ``compile``, ``train`` and ``eval`` of a run trained now (zero for a reused one),
    and ``bench`` (bare-step timing). The run is planned
    and its data loaded once; the stored run with the same key (model as built, data, recipe, versions)
    is reused, else the same prepared run trains. ``finished`` looks the key up instead of this host's store
    (a Ray task: the driver's finished runs); new figures of such a run are left to the driver to record.
    """
    from rich.console import Console

    from zoo.run.plan import plan_run, prepare_run
    from zoo.run.progress import RichTrainingProgress
    from zoo.run.store import RunStore
    from zoo.run.training import train_prepared

    assert job.dataset is not None
    started, started_at = time.perf_counter(), time.time()
    plan = plan_run(job.model, job.dataset, overrides=job.settings)  # imports the framework on a first job
    timings = {"start": max(0.0, time.time() - job.spawned_at)} if job.spawned_at else {}
    spec, config = plan.spec, plan.config
    label = f"{spec.name} seed {config.seed}"
    preparing = time.perf_counter()
    prepared = prepare_run(plan, job.data_dir)  # the data, and the model built once to fingerprint it
    prepare_seconds = time.perf_counter() - preparing
    store = RunStore()
    lookup = finished or store.find_finished
    record = None if job.rerun else lookup(prepared.reuse_key)
    if record is None:
        why = "--rerun" if job.rerun else "no finished run in the store matches"
        print(f"{label}: training ({why})", file=sys.stderr, flush=True)
        result = train_prepared(prepared, progress=RichTrainingProgress(Console(stderr=True), label=label))
        record = store.get(result.run_id)
        source = "measured"
        timings.update(_run_phases(record.metrics))
        timings["data"] = prepare_seconds
    else:
        timings["data"] = prepare_seconds
        how = f"{record.origin}, " if record.converted_from else ""
        print(f"{label}: reusing stored run {record.id} ({how}finished {record.finished[:19]})", file=sys.stderr,
              flush=True)
        source = "converted" if record.converted_from else "reused"
    metrics = {**record.metrics, **_compile_cache_share(record.fit_details)}
    input_size = prepared.data.preprocessing.input_size  # what the run trained at
    bench_started = time.perf_counter()
    if "train_bare_samples_per_sec" not in metrics or job.rerun:
        base = replace(_bench_config(job, input_size, prepared.data.num_classes, config), execution=record.execution)
        measured = _bare_step(plan.backend, spec, base, steady="train_steady_samples_per_sec" in metrics)
        numeric = {k: float(v) for k, v in measured.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if finished is None or source == "measured":
            store.log_metrics(record.id, numeric)
        metrics.update(numeric)
        throughput_source = "measured"
    else:
        throughput_source = source
    timings["bench"] = time.perf_counter() - bench_started
    return JobResult(
        status="ok", model=spec.name, backend=spec.backend, variant=spec.variant, seed=config.seed,
        run_id=record.id, source=source, origin=record.origin, throughput_source=throughput_source, metrics=metrics,
        history=record.epochs, input_size=input_size, batch_size=config.batch_size, precision=config.precision,
        execution=record.execution, environment=record.environment, recipe=config.recipe(), timings=timings,
        worker_pid=os.getpid(), wall_seconds=time.perf_counter() - started,
        host=socket.gethostname(), device_share=device_share(), started_at=started_at, ended_at=time.time(),
    )


def run_bench_job(job: Job) -> JobResult:
    """Time one model on synthetic inputs."""
    from zoo.api.sizes import check_input_size
    from zoo.plugins.backends import get_backend
    from zoo.plugins.registry import get_registry
    from zoo.run.allocator import keep_freed_memory
    from zoo.run.environment import core_environment

    keep_freed_memory()
    spec = get_registry().model(job.model).spec
    config = TrainConfig.build(job.settings)
    backend = get_backend(spec.backend)
    input_size = job.input_size or spec.input_size
    check_input_size(spec, input_size[1:])
    started, started_at = time.perf_counter(), time.time()
    measured = _measure(backend, spec, _bench_config(job, input_size, job.num_classes, config))
    summary = backend.summarize(spec, num_classes=job.num_classes, input_size=input_size)
    return JobResult(
        status="ok", model=spec.name, backend=spec.backend, variant=spec.variant, input_size=input_size,
        batch_size=config.batch_size, precision=config.precision,
        metrics={**measured, "param_count": summary.param_count, "macs": summary.macs},
        environment={**core_environment(), **backend.environment(config.device)},
        worker_pid=os.getpid(), wall_seconds=time.perf_counter() - started,
        host=socket.gethostname(), device_share=device_share(), started_at=started_at, ended_at=time.time(),
    )


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
    job = Job.from_json(json.loads(Path(job_path).read_text()))
    try:
        result = execute(job)
    except KeyboardInterrupt:
        return 130
    atomic_write_text(result_path, json.dumps(result.to_json(), default=str))
    return 0 if result.ok else 1


def execute(job: Job, finished: Finder | None = None) -> JobResult:
    """Run ``job`` here; an error becomes a failed result that says why (Ctrl-C propagates)."""
    try:
        return run_bench_job(job) if job.kind == BENCH else run_train_job(job, finished)
    except ZooError as exc:
        return JobResult.failed(str(exc), model=job.model)
    except Exception as exc:
        return JobResult.failed(f"{type(exc).__name__}: {exc}", model=job.model)


if __name__ == "__main__":
    sys.exit(main())
