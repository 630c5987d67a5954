"""``zoo plugins new``: parse, call :func:`zoo.scaffold.scaffold`, say what was written."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer


def new(
    name: Annotated[str, typer.Argument(help="Plugin name: lower case, letters, digits and '_', e.g. mynet.")],
    backend: Annotated[str, typer.Option(help="Framework of the generated model: torch or keras.")] = "torch",
    output: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional here on Python 3.10
        typer.Option(help="Directory to write the package into [./zoo-NAME]; must be new or empty."),
    ] = None,
) -> None:
    """Create a plugin package zoo-NAME: entry point, one model, a README and a test."""
    from zoo.plugins.scaffold import scaffold

    written = scaffold(name, backend=backend, output=output)
    root = written[0].parent
    for path in written:
        sys.stdout.write(f"{path}\n")
    sys.stderr.write(
        f"created zoo-{name} in {root}; next: pip install -e {root} && zoo plugins "
        f"(and pytest {root / 'tests'})\n"
    )
