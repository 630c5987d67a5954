"""``zoo compare`` and ``zoo bench``: parse, call zoo.grid, render."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from zoo.api.atomic import atomic_write_text
from zoo.api.errors import UsageError
from zoo.cli import options as opt
from zoo.cli.report import as_flags, check_format, render_rows, stdout_console
from zoo.grid.columns import (
    BENCH_COLUMNS,
    BENCH_TABLE_COLUMNS,
    COMPARE_COLUMNS,
    COMPARE_SPEED_COLUMNS,
    COMPARE_TABLE_COLUMNS,
    WALL_COLUMNS,
    WALL_PHASES,
)

if TYPE_CHECKING:
    from zoo.grid.comparison import Comparison

stdout = stdout_console()
stderr = Console(stderr=True)
Opt = typer.Option
HEADERS = {"param_count": "params (M)", "top1": "top-1 %", "top5": "top-5 %", "train_samples_per_sec": "train img/s",
           "infer_samples_per_sec": "infer img/s", "batch_size": "batch", "input_size": "input (CxHxW)",
           "gmacs": "GMACs", "infer_gmacs": "GMACs", "infer_iqr_pct": "infer IQR %", "train_iqr_pct": "train IQR %",
           "wall_s": "wall s", **{f"wall_{phase}_s": phase for phase in WALL_PHASES}}
# The speed table's headers take two lines so that it fits in 100 columns (Markdown joins them).
SPEED_HEADERS = {**HEADERS, "execution": "steps", "train_steady_samples_per_sec": "train\nimg/s",
                 "train_bare_samples_per_sec": "bare\nimg/s", "loop_efficiency": "loop\neff.",
                 "compile_s": "compile\ns", "compile_cache_hits_pct": "cached\n%",
                 "infer_samples_per_sec": "infer\nimg/s"}
# Markdown (for docs) has no width limit: both tables' columns in one, without the wall-time split.
MARKDOWN_COLUMNS = [
    {"top1_pct": "top1", "top5_pct": "top5"}.get(c, c) for c in COMPARE_COLUMNS
    if c not in WALL_COLUMNS and c not in ("variant", "device", "train_s", "top1_pct_std", "top5_pct_std")
]
NOTE_WIDTH = 100
MIN_STABLE_STEPS = 20  # fewer timed steps than this give a median one busy moment can move
MAX_STEADY_IQR_PCT = 10.0  # a wider spread over the timed steps than this is worth a warning


def _pm(mean: float | None, std: float | None) -> str | None:
    """``93.11 ± 0.12`` (percent, over seeds); the mean alone for one seed."""
    if mean is None:
        return None
    return f"{mean:.2f}" + (f" ± {std:.2f}" if std else "")


def shown_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as people read them: top-1/top-5 as "mean ± std", a trained size other than the native one
    marked with ``*`` (see :func:`size_note`)."""
    shown = []
    for row in rows:
        extra: dict[str, Any] = {"top1": _pm(row.get("top1_pct"), row.get("top1_pct_std")),
                                 "top5": _pm(row.get("top5_pct"), row.get("top5_pct_std"))}
        native = row.get("native_input_size")
        if row.get("input_size") and native and row["input_size"] != native:
            extra["input_size"] = f"{row['input_size']}*"
        if row.get("compile_s") is not None and (row.get("compile_cache_hits_pct") or 0) > 0:
            extra["compile_s"] = f"{row['compile_s']:.2f}\u2020"
        shown.append({**row, **extra})
    return shown


def cache_note(rows: list[dict[str, Any]]) -> str | None:
    """The line under the speed table when some runs loaded compiled programs instead of compiling them."""
    loaded = [f"{row['model']} {row['compile_cache_hits_pct']:.0f}%" for row in rows
              if (row.get("compile_cache_hits_pct") or 0) > 0]
    if not loaded:
        return None
    return ("\u2020 programs loaded from JAX's compilation cache, compiled by an earlier run (" + ", ".join(loaded)
            + " of the run's): compile s is mostly loading; ZOO_COMPILE_CACHE=off with --rerun gives a cold compile")


def size_note(rows: list[dict[str, Any]]) -> str | None:
    """The line under the table when a model trained at a size other than its native input."""
    resized = [f"{row['model']} {row['native_input_size']}" for row in rows
               if row.get("input_size") and row.get("native_input_size")
               and row["input_size"] != row["native_input_size"]]
    if not resized:
        return None
    return ("* not the native input (" + ", ".join(resized) + "): a model trains at the data's own size "
            "unless its recipe's --min-image-size or --image-size resizes it (zoo info MODEL); params and GMACs "
            "are at the size trained")


def bench_warnings(rows: list[dict[str, Any]], steps: int) -> list[str]:
    """What makes a bench figure unsteady: too few timed steps, or steps that disagree."""
    lines = []
    if steps < MIN_STABLE_STEPS:
        lines.append(f"{steps} timed step{'' if steps == 1 else 's'} per mode are too few for a stable figure: "
                     f"one busy moment moves the median; use --steps {MIN_STABLE_STEPS} or more")
    unsteady = [f"{row['model']} {mode} {row[f'{mode}_iqr_pct']:.0f}%" for row in rows for mode in ("infer", "train")
                if (row.get(f"{mode}_iqr_pct") or 0.0) > MAX_STEADY_IQR_PCT]
    if unsteady:
        lines.append(f"timed steps disagree (IQR over the median: {', '.join(unsteady)}): the machine was busy or "
                     "the model had not settled; rerun with more --steps or --warmup (JSON/CSV: each mode's "
                     "slowest and fastest step's img/s)")
    return lines


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` as integers, or a usage error."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        seeds = []
    if not seeds or any(seed < 0 for seed in seeds):
        raise UsageError(f"--seeds must be comma-separated non-negative integers like 0,1,2, got {text!r}")
    return seeds


def _conditions_line(conditions: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in conditions.get("versions", {}).items())
    commit = f" ({conditions['commit']})" if conditions.get("commit") else ""
    parts = [f"device: {conditions['device']}", f"zoo {conditions['zoo']}{commit}", versions,
             f"precision {conditions.get('precision')}", f"batch {conditions.get('batch_size')}"]
    if conditions.get("compile", "off") != "off":
        parts.append(f"compile {conditions['compile']}")
    parts.append(_recipe_part(conditions.get("recipe_overrides")))
    if "dataset" in conditions:
        parts.insert(0, f"dataset: {conditions['dataset']} (test split), seeds {conditions['seeds']}")
    if "num_classes" in conditions:  # zoo bench: synthetic inputs, a head of this many classes
        parts.append(f"{conditions['num_classes']} classes, {conditions.get('steps')} timed steps after "
                     f"{conditions.get('warmup')} warm-up")
    return " | ".join(p for p in parts if p)


def _recipe_part(overrides: dict[str, Any] | None) -> str:
    """The options that changed every model's recipe, e.g. ``recipe: epochs 1, augment shift``."""
    shown = {k: v for k, v in (overrides or {}).items() if k not in {"device", "precision", "batch_size"}}
    if not shown:
        return "each model's own recipe" if overrides is not None else ""
    return "recipe: " + ", ".join(f"{key.replace('_', '-')} {value}" for key, value in shown.items())


def _speed_title(conditions: dict[str, Any]) -> str:
    return (f"speed at batch {conditions.get('batch_size')}, {conditions.get('precision')}: training after warm-up, "
            "its bare step (zoo bench), their ratio")


def wall_line(rows: list[dict[str, Any]]) -> str:
    """``wall 61.2 s: start 12.0, data 1.1, ...``: where the whole comparison's time went, over all models
    (``--timings`` shows it per model)."""
    total = sum(row.get("wall_s") or 0.0 for row in rows)
    phases = ", ".join(f"{phase} {sum(row.get(f'wall_{phase}_s') or 0.0 for row in rows):.1f}"
                       for phase in WALL_PHASES)
    return f"wall {total:.1f} s: {phases}"


def contended_note(rows: list[dict[str, Any]]) -> str:
    """The line under the table naming the rows whose speed was measured while other jobs shared the device."""
    names = [row["model"] for row in rows if row.get("contended")]
    if not names:
        return ""
    return (f"contended: the speed of {', '.join(names)} was measured while other jobs shared the device "
            "(--jobs, Ray); do not compare it with uncontended figures (rerun with --jobs 1 --rerun)")


def render(comparison: Comparison, columns: list[str], fmt: str, output: Path | None, title: str,
           timings: bool = False) -> None:
    """Print or write the comparison in ``fmt``; the table goes with a conditions header. ``zoo compare``'s
    table is two (accuracy and size; speed), a wall-time line, and with ``timings`` the time per phase."""
    for row in comparison.rows:
        if row.get("reason"):
            row["reason"] = as_flags(row["reason"])
    if fmt == "json":
        rows = [{k: v for k, v in row.items() if k != "histories"} for row in comparison.rows]
        text = json.dumps({"conditions": comparison.conditions, "rows": rows,
                           "interrupted": comparison.interrupted}, indent=2, default=str) + "\n"
    elif fmt == "table":
        if output is not None:
            raise UsageError("--output needs --format json, csv or markdown")
        stdout.print(Text(_conditions_line(comparison.conditions), style="dim"), soft_wrap=False)
        rows = shown_rows(comparison.rows)
        shown = (COMPARE_TABLE_COLUMNS if columns == COMPARE_COLUMNS
                 else BENCH_TABLE_COLUMNS if columns == BENCH_COLUMNS else columns)
        if all(row.get("status") == "ok" for row in rows):  # a failure's row says so, and its reason is below
            shown = [c for c in shown if c != "status"]
        render_rows(rows, shown, "table", console=stdout, title=title, headers=HEADERS)
        if columns == COMPARE_COLUMNS:
            if (note := size_note(rows)) is not None:  # prose: wrapped to 100 columns on a wider terminal
                stdout.print(Text(note, style="dim"), width=min(stdout.width, NOTE_WIDTH))
            render_rows(rows, COMPARE_SPEED_COLUMNS, "table", console=stdout, headers=SPEED_HEADERS,
                        title=_speed_title(comparison.conditions))
            if (note := cache_note(rows)) is not None:
                stdout.print(Text(note, style="dim"), width=min(stdout.width, NOTE_WIDTH))
            if timings:
                render_rows(comparison.rows, ["model", *WALL_COLUMNS, "wall_s"], "table", console=stdout,
                            headers=HEADERS, title="wall seconds per phase")
            conditions = comparison.conditions
            elapsed = conditions.get("elapsed_s")
            side_by_side = conditions.get("executor") == "ray" or (conditions.get("jobs") or 1) > 1
            took = f" (elapsed {elapsed:.1f} s, jobs side by side)" if side_by_side and elapsed is not None else ""
            stdout.print(f"[dim]{wall_line(comparison.rows)}{took}[/]", highlight=False)
            if note := contended_note(comparison.rows):
                stdout.print(f"[yellow]{note}[/]", highlight=False)
        for row in comparison.rows:
            if row.get("reason"):
                stderr.print(Text.assemble((row["model"], "red"), ": ", row["reason"]))
            elif row.get("note"):
                stdout.print(Text.assemble((row["model"], "bold"), ": ", row["note"], style="dim"))
        return
    else:
        shown = MARKDOWN_COLUMNS if fmt == "markdown" and columns == COMPARE_COLUMNS else columns
        rows = shown_rows(comparison.rows) if fmt == "markdown" else comparison.rows
        text = render_rows(rows, shown, fmt, headers=SPEED_HEADERS) or ""
        if fmt == "markdown":
            text = f"{_conditions_line(comparison.conditions)}\n\n{text}"
    if output is not None:
        atomic_write_text(output, text)
        stderr.print(f"written to {output}", soft_wrap=True)
    else:
        sys.stdout.write(text)


def compare(
    patterns: Annotated[Optional[list[str]], typer.Argument(help="Model globs, e.g. 'alexnet-*'.")] = None,  # noqa: UP045
    dataset: Annotated[str, Opt("--dataset", "-d", help="Dataset to train and test on.")] = "",
    exclude: Annotated[list[str], Opt("--exclude", "-x", help="Glob to leave out (repeatable).")] = [],  # noqa: B006
    family: Annotated[
        Optional[str],  # noqa: UP045
        Opt(help="Only models of this family, e.g. resnet50: timm's and Keras' side by side (zoo list --family)."),
    ] = None,
    epochs: opt.Epochs = None,
    seeds: Annotated[str, Opt(help="Comma-separated seeds; top-1 is mean ± std over them.")] = "0",
    batch_size: opt.BatchSize = None,
    lr: opt.LearningRate = None,
    optimizer: opt.Optimizer = None,
    weight_decay: opt.WeightDecay = None,
    label_smoothing: opt.LabelSmoothing = None,
    scheduler: opt.Scheduler = None,
    augment: opt.Augment = None,
    image_size: opt.ImageSize = None,
    min_image_size: opt.MinImageSize = None,
    limit: opt.Limit = None,
    limit_test: opt.LimitTest = None,
    pretrained: opt.Pretrained = None,
    weights: opt.Weights = None,
    device: opt.Device = None,
    keras_backend: opt.KerasBackend = None,
    precision: opt.Precision = None,
    rerun: Annotated[bool, Opt("--rerun", help="Train again even when the store has a matching finished run.")] = False,
    bench_steps: Annotated[int, Opt(help="Timed throughput steps per mode.")] = 40,
    bench_warmup: Annotated[int, Opt(help="Warm-up steps before timing.")] = 10,
    data_dir: Annotated[Optional[str], Opt(help="Directory holding the dataset's files.")] = None,  # noqa: UP045
    fmt: Annotated[str, Opt("--format", "-f", help="table, json, csv or markdown.")] = "table",
    output: Annotated[Optional[Path], Opt(help="Write the result here instead of stdout.")] = None,  # noqa: UP045
    plot: Annotated[Optional[Path], Opt(help="PNG: accuracy vs inference throughput, and training curves.")] = None,  # noqa: UP045
    timings: Annotated[bool, Opt("--timings", help="Also a table of each model's wall seconds per phase.")] = False,
    deterministic: Annotated[bool, Opt(help="Deterministic algorithms (slower).")] = False,
    jobs: Annotated[int, Opt("--jobs", "-j", help="Workers at once; CPU threads and --devices shared out.")] = 1,
    devices: Annotated[Optional[str], Opt(help="With --jobs: devices to share out, e.g. cuda:0,cuda:1.")] = None,  # noqa: UP045
    executor: Annotated[str, Opt(help="local, or ray: each (model, seed) a Ray task.")] = "local",
    address: Annotated[Optional[str], Opt(help="Ray cluster: auto or ray://HOST:PORT \\[a local one].")] = None,  # noqa: UP045
    ray_gpus: Annotated[Optional[float], Opt(help="GPUs per Ray task \\[1 on a GPU cluster, else 0].")] = None,  # noqa: UP045
    ray_cpus: Annotated[float, Opt(help="CPUs (threads) per Ray task.")] = 1.0,
) -> None:
    """Train, test and time every matching model; one table sorted by accuracy."""
    from zoo.grid.comparison import compare as run_compare

    check_format(fmt)
    if not patterns and family is None:
        raise UsageError("give model globs (e.g. 'alexnet-*') or --family NAME; see 'zoo list'")
    if not dataset:
        raise UsageError("give --dataset NAME (zoo data list) to train and test on")
    if bench_steps < 1 or bench_warmup < 0:
        raise UsageError("--bench-steps must be at least 1 and --bench-warmup at least 0")
    overrides = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "optimizer": optimizer,
                 "weight_decay": weight_decay, "label_smoothing": label_smoothing, "scheduler": scheduler,
                 "augment": augment, "image_size": image_size, "min_image_size": min_image_size,
                 "limit": limit, "limit_test": limit_test,
                 "device": device, "precision": precision, "pretrained": pretrained, "weights": weights,
                 "deterministic": deterministic or None}
    from zoo.api.config import TrainConfig

    TrainConfig.build(overrides)  # bad values fail here, before any worker starts
    if plot is not None:
        from zoo.cli.plots import check_plot_path

        check_plot_path(plot)
    from zoo.grid.jobs import RayOptions
    from zoo.grid.placement import parse_devices

    if executor not in ("local", "ray"):
        raise UsageError(f"--executor must be local or ray, got {executor!r}")
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    if executor == "ray" and (jobs != 1 or devices):
        raise UsageError("--jobs and --devices are for the local executor; Ray places its tasks itself "
                         "(--ray-cpus, --ray-gpus)")
    if executor != "ray" and (address or ray_gpus is not None or ray_cpus != 1.0):
        raise UsageError("--address, --ray-gpus and --ray-cpus need --executor ray")
    if ray_cpus <= 0 or (ray_gpus is not None and ray_gpus < 0):
        raise UsageError("--ray-cpus must be above 0 and --ray-gpus at least 0")
    comparison = run_compare(
        patterns or (), dataset, exclude=exclude, family=family, seeds=parse_seeds(seeds), overrides=overrides,
        rerun=rerun, data_dir=data_dir, bench_steps=bench_steps, bench_warmup=bench_warmup,
        announce=lambda line: stderr.print(line, highlight=False, markup=False, soft_wrap=True),
        jobs=jobs, devices=parse_devices(devices), executor=executor,
        ray=RayOptions(address=address, num_gpus=ray_gpus, num_cpus=ray_cpus),
    )
    render(comparison, COMPARE_COLUMNS, fmt, output, f"zoo compare on {dataset}", timings=timings)
    if plot is not None:
        from zoo.cli.plots import plot_comparison

        plot_comparison(comparison.rows, plot, title=f"zoo compare on {dataset}")
        stderr.print(f"plot written to {plot}", soft_wrap=True)
    if comparison.interrupted:
        stderr.print("[yellow]interrupted: finished rows kept[/]")
        raise typer.Exit(130)
    if not any(row["status"] == "ok" for row in comparison.rows):
        raise typer.Exit(1)


def bench(
    patterns: Annotated[list[str], typer.Argument(help="Model globs, e.g. 'alexnet-*'.")],
    exclude: Annotated[list[str], Opt("--exclude", "-x", help="Glob to leave out (repeatable).")] = [],  # noqa: B006
    input_size: Annotated[Optional[str], Opt("--input", help="CxHxW \\[each model's native input].")] = None,  # noqa: UP045
    batch_size: Annotated[int, Opt(help="Batch size (halved on out-of-memory, and said).")] = 256,
    precision: Annotated[str, Opt(help="fp32 or bf16.")] = "fp32",
    device: Annotated[str, Opt(help="auto, cpu, cuda or cuda:N.")] = "auto",
    keras_backend: opt.KerasBackend = None,
    compile_: opt.Compile = False,
    no_compile: opt.NoCompile = False,
    compile_mode: Annotated[Optional[str], Opt(help=opt.compile_mode_help())] = None,  # noqa: UP045
    channels_last: opt.ChannelsLast = False,
    no_channels_last: opt.NoChannelsLast = False,
    train: Annotated[bool, Opt("--train", help="Time training steps only.")] = False,
    infer: Annotated[bool, Opt("--infer", help="Time inference only.")] = False,
    steps: Annotated[int, Opt(help="Timed steps per mode.")] = 40,
    warmup: Annotated[int, Opt(help="Warm-up steps.")] = 10,
    num_classes: Annotated[
        int, Opt(help="Classes of the head, as zoo compare on a 10-class dataset builds it.", show_default=True)
    ] = 10,
    fmt: Annotated[str, Opt("--format", "-f", help="table, json, csv or markdown.")] = "table",
    output: Annotated[Optional[Path], Opt(help="Write the result here instead of stdout.")] = None,  # noqa: UP045
) -> None:
    """Throughput only, on synthetic inputs; columns as timm's benchmark.py CSVs."""
    from zoo.api.config import TrainConfig
    from zoo.cli.options import parse_input_size
    from zoo.grid.comparison import bench as run_bench

    check_format(fmt)
    if steps < 1 or warmup < 0 or batch_size < 1:
        raise UsageError("--steps and --batch-size must be at least 1, --warmup at least 0")
    from zoo.api.config import check_num_classes

    check_num_classes(num_classes)
    overrides = {"precision": precision, "device": device,
                 **opt.compile_settings(opt.tri_state("compile", compile_, no_compile), compile_mode),
                 "channels_last": opt.tri_state("channels-last", channels_last, no_channels_last)}
    TrainConfig.build(overrides)
    comparison = run_bench(
        patterns, exclude=exclude, input_size=parse_input_size(input_size) if input_size else None,
        batch_size=batch_size, overrides=overrides, train=train or not infer, infer=infer or not train,
        steps=steps, warmup=warmup, num_classes=num_classes,
        announce=lambda line: stderr.print(line, highlight=False, markup=False, soft_wrap=True),
    )
    render(comparison, BENCH_COLUMNS, fmt, output, "zoo bench (synthetic inputs; img/s: median step)")
    for line in bench_warnings(comparison.rows, steps):
        stderr.print(f"[yellow]warning:[/] {escape(line)}", highlight=False)
    if comparison.interrupted:
        raise typer.Exit(130)
    if not any(row["status"] == "ok" for row in comparison.rows):
        raise typer.Exit(1)
