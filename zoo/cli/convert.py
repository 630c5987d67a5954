"""``zoo convert`` (a checkpoint to its twin in the other backend) and ``zoo export`` (to ONNX)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from zoo.cli import options as opt
from zoo.cli.options import Opt
from zoo.cli.report import check_format, render_rows, stdout_console

stderr = Console(stderr=True)
COLUMNS = ["model", "output", "images", "max_abs_logit_diff", "top1_agreement"]
CONVERT_COLUMNS = ["run_id", *COLUMNS]
HEADERS = {"max_abs_logit_diff": "max |Δlogit|", "top1_agreement": "same top-1", "run_id": "run"}


def _report(row: dict[str, Any], fmt: str, title: str, columns: list[str] = COLUMNS) -> None:
    text = render_rows([row], columns, fmt, title=title, console=stdout_console(), headers=HEADERS)
    if text is not None:
        typer.echo(text)


def convert(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint directory (zoo train's, or a converted one).")],
    to: Annotated[str, Opt("--to", help="Backend of the twin: keras or torch.")],
    output: Annotated[Optional[Path], Opt(help="Folder to write \\[<checkpoint>-<backend>].")] = None,  # noqa: UP045
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace a checkpoint already at --output.")] = False,
    check: Annotated[int, Opt(help="Compare logits on the first N test images (0: skip).")] = 256,
    data_dir: Annotated[Optional[Path], Opt(help="Directory holding the dataset's files.")] = None,  # noqa: UP045
    keras_backend: opt.KerasBackend = None,
    fmt: Annotated[str, Opt("--format", "-f", help="table, json or csv.")] = "table",
) -> None:
    """Move a trained model's weights to its twin in the other framework (torch <-> keras)."""
    from zoo.run.convert import convert_checkpoint

    check_format(fmt, ("table", "json", "csv"))
    with stderr.status(f"converting {checkpoint} to {to}"):
        result = convert_checkpoint(checkpoint, to=to.lower(), output=output, overwrite=overwrite,
                                    check_images=check, data_dir=data_dir)
    parity = result.parity
    row = {"run_id": result.run_id, "model": result.target.model, "output": str(result.target.directory),
           "images": parity.images if parity else 0,
           "max_abs_logit_diff": parity.max_abs_logit_diff if parity else None,
           "top1_agreement": f"{parity.top1_agreement:.2%}" if parity and fmt == "table" else
           (parity.top1_agreement if parity else None)}
    _report(row, fmt, f"{result.source.model} -> {result.target.model}", CONVERT_COLUMNS)
    if fmt == "table" and result.run_id is not None:
        stderr.print(f"recorded as run {result.run_id}; 'zoo train --resume {result.run_id} --epochs N' trains it on "
                     f"in {result.target.metadata['backend']} (fresh optimizer state)", highlight=False,
                     soft_wrap=True)


def export(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint directory.")],
    to_format: Annotated[str, Opt("--format", help="Export format: onnx.")] = "onnx",
    opset: Annotated[int, Opt(help="ONNX opset version.")] = 18,
    output: Annotated[Optional[Path], Opt(help="File to write \\[<checkpoint>/model.onnx].")] = None,  # noqa: UP045
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace an existing file at --output.")] = False,
    check: Annotated[int, Opt(help="Check onnxruntime's logits on the first N test images.")] = 1000,
    data_dir: Annotated[Optional[Path], Opt(help="Directory holding the dataset's files.")] = None,  # noqa: UP045
    keras_backend: opt.KerasBackend = None,
    fmt: Annotated[str, Opt("--report", help="table, json or csv.")] = "table",
) -> None:
    """Export a checkpoint to ONNX and check it with onnxruntime on real test images."""
    from zoo.run.onnx_export import export_checkpoint

    check_format(fmt, ("table", "json", "csv"))
    with stderr.status(f"exporting {checkpoint} to {to_format}"):
        result = export_checkpoint(checkpoint, fmt=to_format.lower(), opset=opset, output=output,
                                   overwrite=overwrite, check_images=check, data_dir=data_dir)
    parity = result.parity
    row = {"model": result.checkpoint.model, "output": str(result.path), "images": parity.images,
           "max_abs_logit_diff": parity.max_abs_logit_diff,
           "top1_agreement": f"{parity.top1_agreement:.2%}" if fmt == "table" else parity.top1_agreement}
    _report(row, fmt, f"{result.checkpoint.model} -> ONNX opset {result.opset} (onnxruntime check)")
