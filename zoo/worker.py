"""One model's share of ``zoo compare`` / ``zoo bench``, run in its own process.

``python -m zoo.worker JOB.json RESULT.json``: a crash, an out-of-memory kill
or a plugin error here costs the comparison one row, not the whole table, and
TensorFlow and PyTorch never share a process or fight over a GPU.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.atomic import atomic_write_text
from zoo.backend import BenchConfig, Throughput
from zoo.errors import ZooError

if TYPE_CHECKING:
    from zoo.config import TrainConfig


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


def _throughput(backend: Any, spec: Any, job: dict[str, Any], shape: tuple[int, int, int], num_classes: int,
                config: Any) -> dict[str, Any]:
    bench = job.get("bench", {})
    results: list[Throughput] = backend.benchmark(spec, BenchConfig(
        input_shape=shape, num_classes=num_classes, batch_size=bench.get("batch_size") or config.batch_size,
        device=config.device, precision=config.precision, compile=config.compile,
        compile_mode=config.compile_mode,
        channels_last=config.channels_last, warmup_steps=bench.get("warmup", 10), timed_steps=bench.get("steps", 40),
        train=bench.get("train", True), infer=bench.get("infer", True),
    ))
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


def run_train_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train (or reuse a finished run), then measure throughput and size of one model."""
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
    if record is None:
        label = f"{spec.name} seed {config.seed}"
        result = train(spec.name, dataset.name, config, data_dir=job.get("data_dir"),
                       progress=RichTrainingProgress(Console(stderr=True), label=label))
        record = store.get(result.run_id)
        source = "measured"
    else:
        source = "reused"
    metrics = dict(record.metrics)
    shape = _input_shape(spec, dataset.name, None, config)  # what the run trained at
    if "train_samples_per_sec" not in metrics or job.get("rerun"):
        measured = _throughput(backend, spec, job, shape, dataset.num_classes, config)
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
    return {
        "status": "ok", "model": spec.name, "backend": spec.backend, "variant": spec.variant,
        "seed": config.seed, "run_id": record.id, "source": source, "throughput_source": throughput_source,
        "metrics": metrics, "history": record.epochs, "img_size": list(shape),
        "batch_size": config.batch_size, "precision": config.precision,
        "environment": record.environment, "wall_seconds": time.perf_counter() - started,
        "recipe": config.recipe(),
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
    """Run the job in ``argv[0]``, write the result to ``argv[1]``; exit 0 on success."""
    job_path, result_path = (argv if argv is not None else sys.argv[1:])[:2]
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
