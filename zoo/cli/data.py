"""``zoo data ...``: list, describe, download, verify and preview datasets.

A thin layer over :mod:`zoo.data`: parse options, call the library, render.
Data goes to stdout (rich tables, or JSON with ``--format json``), messages
to stderr; errors are raised as :class:`~zoo.errors.ZooError`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.text import Text

from zoo.api.errors import UsageError, ZooError
from zoo.cli import data_local as cli_data_local
from zoo.cli.report import build_table, key_value_table, render_rows, stdout_console

app = typer.Typer(
    name="data",
    help="Datasets: list, info, download, verify, show; add and remove your own.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("add")(cli_data_local.add)
app.command("remove")(cli_data_local.remove)

stdout = stdout_console()
stderr = Console(stderr=True, highlight=False)

NameArg = Annotated[
    str, typer.Argument(help="Dataset name, e.g. cifar10 (see 'zoo data list'), or a folder, .csv or .npz.")
]
DataDirOption = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option("--data-dir", help="Directory holding the dataset's files (searched first).", show_default=False),
]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="table or json.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or messages.")]


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json"):
        raise UsageError(f"--format must be table or json, got {fmt!r}")


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _shape(values: Any) -> str:
    return "x".join(str(v) for v in values)


def chw(hwc: Any) -> list[int]:
    """A dataset's (H, W, C) image shape as zoo shows every shape: [C, H, W] (``zoo list``'s input_size)."""
    height, width, channels = (int(v) for v in hwc)
    return [channels, height, width]


def _as_chw(details: dict[str, Any]) -> dict[str, Any]:
    """``dataset_info``'s HxWxC shapes (arrays as stored) as CxHxW ``input_size``, as every command shows them."""
    details = dict(details)
    details["input_size"] = chw(details.pop("shape"))
    details["splits"] = {split: {"count": stats["count"], "input_size": chw(stats["shape"][1:]),
                                 "per_class": stats["per_class"]} for split, stats in details["splits"].items()}
    return details


@app.command("list")
def list_command(fmt: FormatOption = "table") -> None:
    """List registered datasets and whether each is ready locally."""
    from zoo.data.datasets import arrays_cached
    from zoo.plugins.registry import get_registry, natural_key

    _check_format(fmt)
    registry = get_registry()
    rows = []
    for name in sorted(registry.datasets, key=natural_key):
        entry = registry.datasets[name]
        spec = entry.spec
        cached = arrays_cached(spec)
        rows.append({
            "name": spec.name,
            "classes": spec.num_classes,
            "input_size": chw(spec.shape),
            "augment": spec.augment,
            "cached": cached,
            "plugin": entry.plugin.distribution,
            "summary": spec.summary,
        })
    if fmt == "json":
        _print_json(rows)
        return
    shown = [{**row, "cached": "yes" if row["cached"] else "-"} for row in rows]
    render_rows(shown, ["name", "classes", "input_size", "augment", "cached", "plugin", "summary"], "table",
                console=stdout, headers={"input_size": "input (CxHxW)"})


@app.command("info")
def info_command(name: NameArg, data_dir: DataDirOption = None, fmt: FormatOption = "table") -> None:
    """Where a dataset's files are, its shapes and per-class counts (never downloads)."""
    from zoo.data.datasets import dataset_info

    _check_format(fmt)
    details = _as_chw(dataset_info(name, data_dir=data_dir).to_dict())
    if fmt == "json":
        _print_json(details)
        return
    table = key_value_table(details["name"], {"summary": details["summary"],
                                                 "input (CxHxW)": _shape(details["input_size"])})
    table.add_row("classes", f"{details['num_classes']}")
    table.add_row("mean / std", f"{details['mean']} / {details['std']}")
    table.add_row("augment", details["augment"])
    table.add_row("homepage", details["homepage"] or "-")
    table.add_row("license", details["license"] or "-")
    if "local" in details:
        cli_data_local.info_rows(table, details["local"])
    else:
        table.add_row("searched", "\n".join(details["searched"]))
        table.add_row("files", "\n".join(details["files"].values()) or "not found locally")
    table.add_row("arrays cache", details["arrays"] or "-")
    for split, stats in details["splits"].items():
        table.add_row(split, f"{stats['count']:,} images, {_shape(stats['input_size'])}")
    stdout.print(table)
    if details["splits"]:
        splits = list(details["splits"])
        per_class = [details["splits"][split]["per_class"] for split in splits]
        rows = [{"label": label, "class": class_name, **{split: f"{column[label]:,}" for split, column in
                                                          zip(splits, per_class, strict=True)}}
                for label, class_name in enumerate(details["classes"])]
        counts = build_table(rows, ["label", "class", *splits], title="images per class")
        stdout.print(counts)
    else:
        stderr.print(f"{name}: not available locally; 'zoo data download {name}' fetches it")


@app.command("download")
def download_command(name: NameArg, data_dir: DataDirOption = None, quiet: QuietOption = False) -> None:
    """Fetch and verify a dataset's files (unless found locally) and cache its arrays."""
    from zoo.data.datasets import download_dataset

    located = download_dataset(name, data_dir=data_dir, progress=not quiet)
    if quiet:
        return
    if located.place.kind == "local":
        stderr.print(f"{name}: ready, decoded from {located.directory} into the arrays cache")
    else:
        stderr.print(f"{name}: ready, files verified in {located.directory} ({located.place.kind})")


@app.command("verify")
def verify_command(name: NameArg, data_dir: DataDirOption = None, fmt: FormatOption = "table") -> None:
    """Recompute the checksums of every copy of a dataset's files; exit 1 on a bad or missing copy."""
    from zoo.data.datasets import get_dataset_spec, verify_dataset
    from zoo.data.local_spec import LocalDatasetSpec
    from zoo.data.locate import how_to_provide, search_places

    _check_format(fmt)
    spec = get_dataset_spec(name)
    if isinstance(spec, LocalDatasetSpec):
        cli_data_local.verify(spec, fmt, stdout)
        return
    statuses = verify_dataset(spec, data_dir=data_dir)
    # A place holding none of the files (a cache with only parsed arrays) is not worth a row each.
    holding = {s.place for s in statuses if s.state != "missing"}
    rows = [
        {"place": s.place.kind, "file": str(s.path), "state": s.state, "detail": s.detail}
        for s in statuses
        if s.place in holding
    ]
    if fmt == "json":
        _print_json(rows)
    elif rows:
        styled = [{**row, "state": Text(row["state"], style={"ok": "green", "bad": "red"}.get(row["state"], "yellow"))}
                  for row in rows]
        render_rows(styled, ["place", "file", "state", "detail"], "table", console=stdout,
                    title=f"{spec.name}: files")
    bad = [s for s in statuses if s.state == "bad"]
    if bad:
        raise ZooError(
            f"{spec.name}: {len(bad)} file(s) fail their checksum: {', '.join(str(s.path) for s in bad)}; "
            "delete them and run 'zoo data download " + spec.name + "'"
        )
    places = {s.place for s in statuses}
    complete = [p for p in places if all(s.state == "ok" for s in statuses if s.place == p)]
    if not complete:
        searched = ", ".join(str(p.path) for p in search_places(spec, data_dir))
        raise ZooError(
            f"{spec.name}: no complete copy found (searched {searched}); to provide it, {how_to_provide(spec)}"
        )
    stderr.print(f"{spec.name}: ok")


@app.command("show")
def show_command(
    name: NameArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")] = Path("grid.png"),
    split: Annotated[str, typer.Option(help="train or test.")] = "train",
    count: Annotated[int, typer.Option(help="Number of images.")] = 40,
    seed: Annotated[int, typer.Option(help="Seed for choosing the images.")] = 0,
    data_dir: DataDirOption = None,
    quiet: QuietOption = False,
) -> None:
    """Save a labelled grid of sample images as a PNG (downloads the dataset if needed)."""
    from zoo.data.datasets import load_dataset
    from zoo.data.render import render_samples

    if split not in ("train", "test"):
        raise UsageError(f"--split must be train or test, got {split!r}")
    dataset = load_dataset(name, data_dir=data_dir, progress=not quiet)
    path = render_samples(dataset, output, split=split, count=count, seed=seed)
    stderr.print(f"samples written to {path}", soft_wrap=True)
