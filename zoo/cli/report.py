"""Render rows of plain data as a rich table, JSON, CSV or Markdown."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from zoo.api.errors import UsageError

FORMATS = ("table", "json", "csv", "markdown")
PIPE_WIDTH = 200  # tables sent to a file or pipe are not squeezed into 80 columns
# Above this many rows a table is laid out as plain columns: Rich measures every cell, which takes
# most of a second for timm's 1,371 models and would break `zoo list`'s 0.3 s budget.
PLAIN_ROWS = 200


def stdout_console() -> Console:
    """The console for data on stdout: the terminal's width, or a wide one when piped."""
    return Console(width=None if sys.stdout.isatty() else PIPE_WIDTH)


def check_format(fmt: str, allowed: Sequence[str] = FORMATS) -> str:
    """``fmt`` if allowed, else a usage error listing the choices."""
    if fmt not in allowed:
        raise UsageError(f"--format must be one of {', '.join(allowed)}, got {fmt!r}")
    return fmt


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"  # 12345.6 as 12346, not 1.235e+04
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    return str(value)


def render_rows(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: str,
    *,
    title: str | None = None,
    console: Console | None = None,
    headers: Mapping[str, str] | None = None,
) -> str | None:
    """Render ``rows`` (only ``columns``, in order).

    Tables print to ``console`` and return None; the other formats return text.
    """
    headers = headers or {}
    if fmt == "json":
        return json.dumps([{c: row.get(c) for c in columns} for row in rows], indent=2, default=str)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        return buffer.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(headers.get(c, c).replace("\n", " ") for c in columns) + " |"]
        lines.append("|" + "|".join(" --- " for _ in columns) + "|")
        for row in rows:
            lines.append("| " + " | ".join(_cell(row.get(c)).replace("|", "\\|") for c in columns) + " |")
        return "\n".join(lines) + "\n"
    if len(rows) > PLAIN_ROWS:
        _plain_table(rows, columns, headers, title, console or Console())
        return None
    table = Table(title=title, header_style="bold")
    for index, column in enumerate(columns):
        last = index == len(columns) - 1
        table.add_column(headers.get(column, column), overflow="fold", no_wrap=not last)
    for row in rows:  # cells are plain text: a plugin's "[timm]" is not Rich markup
        table.add_row(*(Text(_cell(row.get(c))) for c in columns))
    (console or Console()).print(table)
    return None


def _plain_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], headers: Mapping[str, str],
                 title: str | None, console: Console) -> None:
    """A long table as aligned plain columns, the last one cut to the console's width."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    names = [headers.get(c, c).replace("\n", " ") for c in columns]
    widths = [max(len(names[i]), *(len(line[i]) for line in cells)) for i in range(len(columns) - 1)]
    room = max(20, console.width - sum(widths) - 2 * len(widths))

    def line(values: Sequence[str]) -> str:
        last = values[-1] if len(values[-1]) <= room else values[-1][: room - 1] + "…"
        return "  ".join([*(v.ljust(w) for v, w in zip(values, widths, strict=False)), last]).rstrip()

    text = [title] if title else []
    text += [line(names), line(["-" * w for w in widths] + ["-" * min(room, 40)])]
    text += [line(values) for values in cells]
    console.file.write("\n".join(text) + "\n")


_SETTING = re.compile(r"`([a-z][a-z0-9_]*)`")


def as_flags(message: str) -> str:
    """A library message as the CLI says it: each setting it names in backquotes (batch_size) as the
    option that sets it (``--batch-size``). The library names settings, never flags; this is the one mapping."""
    return _SETTING.sub(lambda match: "--" + match.group(1).replace("_", "-"), message)
