"""``zoo train``, ``zoo evaluate``, ``zoo predict``: parse, call the library, render."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from zoo.api.errors import UsageError
from zoo.cli import options as opt
from zoo.cli.report import check_format, render_rows, stdout_console

stdout = stdout_console()
stderr = Console(stderr=True)

Opt = typer.Option
PARALLEL = "Data-parallel training (docs/distributed.md)"
NPROC_HELP = "zoo-torch: processes per node (torchrun, DDP); zoo-keras on JAX or TensorFlow: devices."


def pct(fraction: float) -> float:
    """An accuracy as every output shows it: percent (the run store keeps the fraction)."""
    return 100 * fraction


def _emit_json(payload: object) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def train(
    model: Annotated[Optional[str], typer.Argument(help="Model name, e.g. alexnet-torch-bn.")] = None,  # noqa: UP045
    dataset: Annotated[Optional[str], Opt("--dataset", "-d", help="Dataset name (zoo data list).")] = None,  # noqa: UP045
    epochs: opt.Epochs = None,
    batch_size: opt.BatchSize = None,
    lr: opt.LearningRate = None,
    optimizer: opt.Optimizer = None,
    weight_decay: opt.WeightDecay = None,
    label_smoothing: opt.LabelSmoothing = None,
    scheduler: opt.Scheduler = None,
    val_split: Annotated[Optional[float], Opt(help="Fraction of train held out [0.1].")] = None,  # noqa: UP045
    seed: Annotated[Optional[int], Opt(help="Random seed [0].")] = None,  # noqa: UP045
    augment: opt.Augment = None,
    image_size: opt.ImageSize = None,
    min_image_size: opt.MinImageSize = None,
    pretrained: opt.Pretrained = None,
    weights: opt.Weights = None,
    device: opt.Device = None,
    keras_backend: opt.KerasBackend = None,
    precision: opt.Precision = None,
    compile_: opt.Compile = False,
    no_compile: opt.NoCompile = False,
    compile_mode: Annotated[Optional[str], Opt(help=opt.compile_mode_help())] = None,  # noqa: UP045
    channels_last: opt.ChannelsLast = False,
    no_channels_last: opt.NoChannelsLast = False,
    deterministic: Annotated[bool, Opt("--deterministic", help="Deterministic algorithms (slower).")] = False,
    save_every: Annotated[Optional[int], Opt(help="Save a resumable state every N epochs [1].")] = None,  # noqa: UP045
    resume: Annotated[
        Optional[str],  # noqa: UP045
        Opt(help="Continue run ID (or 'last') from its saved state; a converted run trains on to --epochs N."),
    ] = None,
    limit: opt.Limit = None,
    limit_test: opt.LimitTest = None,
    output: Annotated[Optional[Path], Opt(help="Checkpoint directory \\[zoo home/runs/...].")] = None,  # noqa: UP045
    overwrite: Annotated[
        bool, Opt("--overwrite", help="Replace the checkpoint an --output folder already holds.")
    ] = False,
    data_dir: Annotated[Optional[Path], Opt(help="Directory holding the dataset's files.")] = None,  # noqa: UP045
    plot: Annotated[Optional[Path], Opt(help="Write training curves to this PNG.")] = None,  # noqa: UP045
    fmt: Annotated[str, Opt("--format", "-f", help="table or json (the result on stdout).")] = "table",
    nproc_per_node: Annotated[Optional[int], Opt(help=NPROC_HELP, rich_help_panel=PARALLEL)] = None,  # noqa: UP045
    nnodes: Annotated[int, Opt(help="Nodes (run the same command on each).", rich_help_panel=PARALLEL)] = 1,
    node_rank: Annotated[int, Opt(help="This node's rank.", rich_help_panel=PARALLEL)] = 0,
    master_addr: Annotated[str, Opt(help="Rank 0's host.", rich_help_panel=PARALLEL)] = "127.0.0.1",
    master_port: Annotated[
        Optional[int], Opt(help="Rank 0's port \\[one node: a free one].", rich_help_panel=PARALLEL)  # noqa: UP045
    ] = None,
) -> None:
    """Train a model, score it on the test split, save a checkpoint and record the run.

    Options left unset take the model's recipe ('zoo info MODEL' shows it) and the dataset's default augmentation.
    """
    from zoo.run.progress import RichTrainingProgress
    from zoo.run.resuming import resume_training
    from zoo.run.training import train as run_training

    check_format(fmt, ("table", "json"))
    if plot is not None:
        from zoo.cli.plots import check_plot_path

        check_plot_path(plot)
    if resume is None and (model is None or dataset is None):
        raise UsageError("give a MODEL and --dataset, or --resume RUN_ID to continue a run")
    if resume is not None and (model is not None or dataset is not None or output is not None or overwrite):
        raise UsageError("--resume continues a recorded run in its own folder: leave out MODEL, --dataset, "
                         "--output and --overwrite")
    if overwrite and output is None:
        raise UsageError("--overwrite replaces the checkpoint in an --output folder; give --output DIR "
                         "(runs without one always get a new folder)")
    overrides = {
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "optimizer": optimizer,
        "weight_decay": weight_decay, "label_smoothing": label_smoothing, "scheduler": scheduler,
        "val_split": val_split, "seed": seed,
        "augment": augment, "image_size": image_size, "min_image_size": min_image_size,
        "device": device, "precision": precision, "pretrained": pretrained, "weights": weights,
        **opt.compile_settings(opt.tri_state("compile", compile_, no_compile), compile_mode),
        "channels_last": opt.tri_state("channels-last", channels_last, no_channels_last),
        "deterministic": deterministic or None, "limit": limit, "limit_test": limit_test, "save_every": save_every,
    }
    from zoo.run import distributed

    if (nproc_per_node is not None or nnodes > 1) and not _devices_here(model, resume, nproc_per_node or 1, nnodes):
        _launch_data_parallel(model, resume, nproc_per_node or 1, nnodes, node_rank, master_addr, master_port)
        return

    if distributed.rank() > 0:  # a data-parallel rank under torchrun: rank 0 records and reports
        distributed.train_replica(model, dataset, overrides=overrides, data_dir=data_dir, resume=resume)
        return
    if resume is not None:
        result = resume_training(resume, overrides=overrides, data_dir=data_dir, progress=RichTrainingProgress(stderr))
    else:
        result = run_training(
            model, dataset, overrides=overrides, data_dir=data_dir, output=output, overwrite=overwrite,
            progress=RichTrainingProgress(stderr),
        )
    if plot is not None:
        from zoo.cli.plots import plot_training_curves

        plot_training_curves({result.model: [vars(m) for m in result.history]}, plot)
    summary = {
        "run_id": result.run_id, "model": result.model, "backend": result.backend, "dataset": result.dataset,
        "top1_pct": pct(result.test.top1), "top5_pct": pct(result.test.top5), "test_loss": result.test.loss,
        "test_count": result.test.count, "seconds": round(result.seconds, 2), "device": result.environment["device"],
        "checkpoint": str(result.checkpoint.directory), "recipe": result.config.recipe(),
        "epochs": result.history[-1].epoch if result.history else None,
        **({"note": result.note} if result.note else {}),
    }
    if fmt == "json":
        _emit_json(summary)
        return
    stdout.print(
        f"[bold]{result.model}[/] on {result.dataset}: test top-1 {result.test.top1:.2%}, "
        f"top-5 {result.test.top5:.2%} ({result.test.count:,} images), {result.seconds:.1f} s on "
        f"{summary['device']}\ncheckpoint: {summary['checkpoint']}   run: {result.run_id}",
        highlight=False,
    )
    if plot is not None:
        stderr.print(f"curves written to {plot}", soft_wrap=True)
    if result.note:
        stderr.print(f"note: {result.note}", highlight=False, soft_wrap=True)


def _backend_of(model: str | None, resume: str | None) -> tuple[str, str]:
    """(backend, model) of the model named, or of the run resumed."""
    if model is not None:
        from zoo.plugins.registry import get_registry

        return get_registry().model(model).spec.backend, model
    from zoo.run.store import RunStore

    store = RunStore(read_only=True)
    record = store.get(store.resolve(str(resume)))
    return record.backend, record.model


def _devices_here(model: str | None, resume: str | None, nproc: int, nnodes: int) -> bool:
    """For a backend that spreads one process over several devices (zoo-keras on JAX): ask for them and say
    so (True); False for a torchrun backend. Refuses other backends."""
    from zoo.run import distributed

    backend, name = _backend_of(model, resume)
    distributed.check_backend(backend, name)
    if not distributed.in_process(backend):
        return False
    if nnodes > 1:
        raise UsageError(f"{name} trains data-parallel in one process (keras.distribution on JAX, MirroredStrategy "
                         "on TensorFlow): --nnodes is for zoo-torch models")
    import os

    if os.environ.get("KERAS_BACKEND", "tensorflow") not in ("jax", "tensorflow"):
        raise UsageError(f"{name} trains data-parallel on JAX or TensorFlow, not on Keras' "
                         f"{os.environ['KERAS_BACKEND']} backend: add --keras-backend jax or "
                         "--keras-backend tensorflow")
    distributed.use_local_devices(nproc)
    return True


def _launch_data_parallel(model: str | None, resume: str | None, nproc: int, nnodes: int, node_rank: int,
                          master_addr: str, master_port: int | None) -> None:
    """``zoo train`` again under torchrun, without the launch options; exits with its status."""
    from zoo.run import distributed

    code = distributed.launch(distributed.without_launch_options(sys.argv[1:]), nproc=nproc, nnodes=nnodes,
                              node_rank=node_rank, master_addr=master_addr, master_port=master_port)
    if code:
        raise typer.Exit(code)


def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint directory written by zoo train.")],
    dataset: Annotated[Optional[str], Opt(help="Dataset to score on \\[the checkpoint's].")] = None,  # noqa: UP045
    data_dir: Annotated[Optional[Path], Opt(help="Directory holding the dataset's files.")] = None,  # noqa: UP045
    limit_test: Annotated[Optional[int], Opt(help="Score on the first N test images.")] = None,  # noqa: UP045
    device: Annotated[str, Opt(help="auto, cpu, cuda or cuda:N.")] = "auto",
    keras_backend: opt.KerasBackend = None,
    batch_size: Annotated[int, Opt(help="Inference batch size.")] = 256,
    allow_class_mismatch: Annotated[
        bool, Opt("--allow-class-mismatch", help="Score on a --dataset whose classes are not the checkpoint's.")
    ] = False,
    plot: Annotated[Optional[Path], Opt(help="Write the confusion matrix to this PNG.")] = None,  # noqa: UP045
    fmt: Annotated[str, Opt("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Score a checkpoint on a test split: top-1/top-5, per-class accuracy, confusion matrix."""
    from zoo.run.evaluation import evaluate_checkpoint

    check_format(fmt, ("table", "json"))
    if plot is not None:
        from zoo.cli.plots import check_plot_path

        check_plot_path(plot)
    result = evaluate_checkpoint(
        checkpoint, dataset=dataset, data_dir=data_dir, limit_test=limit_test, device=device, batch_size=batch_size,
        allow_class_mismatch=allow_class_mismatch,
    )
    if plot is not None:
        from zoo.cli.plots import plot_confusion

        plot_confusion(result.evaluation.confusion, result.classes, plot, title=f"{result.model} on {result.dataset}")
        stderr.print(f"confusion matrix written to {plot}", highlight=False, soft_wrap=True)
    ev = result.evaluation
    if fmt == "json":
        _emit_json({"model": result.model, "dataset": result.dataset, "count": ev.count, "top1_pct": pct(ev.top1),
                    "top5_pct": pct(ev.top5), "loss": ev.loss, "per_class_pct": [pct(a) for a in ev.per_class],
                    "confusion": ev.confusion, "classes": list(result.classes)})
        return
    stdout.print(f"[bold]{result.model}[/] on {result.dataset} test ({ev.count:,} images): "
                 f"top-1 {ev.top1:.2%}, top-5 {ev.top5:.2%}, loss {ev.loss:.4f}", highlight=False)
    rows = [{"label": i, "class": name, "accuracy": f"{100 * acc:.2f}", "count": sum(ev.confusion[i])}
            for i, (name, acc) in enumerate(zip(result.classes, ev.per_class, strict=True))]
    render_rows(rows, ["label", "class", "accuracy", "count"], "table", console=stdout, title="per-class accuracy",
                headers={"accuracy": "top-1 %", "count": "images"})
    # Rows and columns both by label (the table above names each): ten class names across would not fit.
    matrix = [{"true": str(i), **{str(j): v for j, v in enumerate(row)}} for i, row in enumerate(ev.confusion)]
    columns = ["true", *[str(j) for j in range(len(result.classes))]]
    render_rows(matrix, columns, "table", console=stdout, headers={"true": "true \\ predicted"},
                title="confusion matrix (images; rows: true label, columns: predicted label)")


def predict(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint directory written by zoo train.")],
    images: Annotated[list[Path], typer.Argument(help="Image files (PNG, JPEG, ...).")],
    top: Annotated[int, Opt(help="How many classes to show per image.")] = 3,
    device: Annotated[str, Opt(help="auto, cpu, cuda or cuda:N.")] = "auto",
    keras_backend: opt.KerasBackend = None,
    fmt: Annotated[str, Opt("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Classify image files with a checkpoint: the top classes with probabilities, the input it expects."""
    import numpy as np

    from zoo.data.images import read_images
    from zoo.run.checkpoint import load_checkpoint, read_checkpoint
    from zoo.run.memory import out_of_memory

    check_format(fmt, ("table", "json"))
    if top < 1:
        raise UsageError(f"--top must be at least 1, got {top}")
    verified = read_checkpoint(checkpoint)
    arrays = read_images(list(images), verified.image_shape)  # bad images are refused before a framework loads
    ckpt, _spec, backend, model = load_checkpoint(verified)
    with out_of_memory(batch_size=None, what=f"classifying {len(arrays):,} images"):
        probabilities = backend.predict_proba(model, arrays, ckpt.preprocessing, batch_size=64, device=device)
    k = max(1, min(top, len(ckpt.classes)))
    expected = expected_input(verified.image_shape, ckpt.preprocessing.mean)
    results = []
    for path, image, probs in zip(images, arrays, probabilities, strict=True):
        order = np.argsort(-probs)[:k]
        results.append({"image": str(path), "expected_input": expected,
                        "hint": unlike_training(image, ckpt.preprocessing.mean),
                        "predictions": [{"class": ckpt.classes[i], "probability": float(probs[i])} for i in order]})
    if fmt == "json":
        _emit_json(results)
        return
    stderr.print(f"{ckpt.model} expects {expected['description']}", highlight=False, soft_wrap=True)
    rows = [{"image": r["image"] if rank == 0 else "", "rank": rank + 1, "class": p["class"],
             "probability": f"{100 * p['probability']:.2f}"}
            for r in results for rank, p in enumerate(r["predictions"])]
    render_rows(rows, ["image", "rank", "class", "probability"], "table", console=stdout, title=ckpt.model,
                headers={"probability": "probability %"})
    for r in results:
        if r["hint"]:
            stderr.print(f"[yellow]hint:[/] {r['image']}: {r['hint']}", highlight=False, soft_wrap=True)


def expected_input(image_shape: tuple[int, int, int], mean: tuple[float, ...]) -> dict[str, object]:
    """What a checkpoint was trained on: channels, size, and (from its data's mean) the background."""
    height, width, channels = image_shape
    brightness = sum(mean) / len(mean)
    background = "dark" if brightness < 0.35 else "light" if brightness > 0.65 else "mixed"
    colour = "grey" if channels == 1 else f"{channels}-channel colour"
    return {"input_size": [channels, height, width], "mean_brightness": round(brightness, 3),
            "description": f"{colour} {height}x{width} images (input {channels}x{height}x{width}), mostly "
                           f"{background} (training data's mean brightness {brightness:.2f} of 1); other "
                           "images are converted and resized to that"}


HINT_BRIGHTNESS_GAP = 0.3  # of 1: an image this much brighter or darker than the training data's mean


def unlike_training(image: object, mean: tuple[float, ...]) -> str | None:
    """A hint when an image (uint8 HxWxC, as fed) looks unlike the training data: far brighter or darker on
    average, as a dark drawing on a white page is to MNIST's white-on-black digits."""
    import numpy as np

    brightness = float(np.asarray(image, dtype=np.float64).mean() / 255)
    trained = sum(mean) / len(mean)
    if abs(brightness - trained) < HINT_BRIGHTNESS_GAP:
        return None
    lighter = "brighter" if brightness > trained else "darker"
    return (f"this image is much {lighter} than the training data (mean brightness {brightness:.2f} against "
            f"{trained:.2f}); the answer may mean little: {'invert it' if trained < 0.5 else 'check it'} or "
            "crop it to the object")
