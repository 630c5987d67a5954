"""Render rows of plain data as a rich table, JSON, CSV or Markdown."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from zoo.api.errors import UsageError

FORMATS = ("table", "json", "csv", "markdown")
PIPE_WIDTH = 200  # tables sent to a file or pipe are not squeezed into 80 columns
# Above this many rows a table is laid out as plain columns: Rich measures every cell, which takes
# most of a second for timm's 1,371 models and would break `zoo list`'s 0.3 s budget.
PLAIN_ROWS = 200
PLAIN_LAST_MIN = 12  # the narrowest last column a plain table shows


# Columns whose cells are names: never folded, whatever the terminal's width.
NAME_COLUMNS = frozenset({"model", "name", "id", "class", "true", "plugin", "dataset", "run"})
# Columns of free text: they fold and take the width the others leave.
TEXT_COLUMNS = frozenset({"summary", "note", "reason", "detail", "error", "warning", "contributed", "source",
                          "path", "file", "output_dir", "image"})  # a file's path folds: it can be any length
NUMBER_WIDTH = 10  # a number's cell folds only past this many characters


def stdout_console() -> Console:
    """The console for data on stdout: the terminal's width (or ``COLUMNS``), a wide one when piped."""
    wide = not sys.stdout.isatty() and not os.environ.get("COLUMNS", "").isdigit()
    return Console(width=PIPE_WIDTH if wide else None)


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
    names: Sequence[str] = (),
    texts: Sequence[str] = (),
) -> str | None:
    """Render ``rows`` (only ``columns``, in order).

    Tables (:func:`build_table`; ``names`` and ``texts`` as there) print to ``console`` and return None;
    the other formats return text.
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
    (console or Console()).print(build_table(rows, columns, title=title, headers=headers, names=names, texts=texts))
    return None


def _plain_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], headers: Mapping[str, str],
                 title: str | None, console: Console) -> None:
    """A long table as aligned plain columns (rich lays out 1,000 rows in about a second): the last one
    cut to the console's width, and columns that leave it less than ``PLAIN_LAST_MIN`` characters left
    out from the right, named in a last line (``--format json`` or ``csv`` has them all)."""
    shown = list(columns)
    while True:
        cells = [[_cell(row.get(c)) for c in shown] for row in rows]
        names = [headers.get(c, c).replace("\n", " ") for c in shown]
        widths = [max(len(names[i]), *(len(line[i]) for line in cells)) for i in range(len(shown) - 1)]
        room = console.width - sum(widths) - 2 * len(widths)
        if room >= PLAIN_LAST_MIN or len(shown) <= 2:
            break
        shown.pop()
    room = max(room, len(names[-1]))

    def line(values: Sequence[str]) -> str:
        last = values[-1] if len(values[-1]) <= room else values[-1][: room - 1] + "…"
        return "  ".join([*(v.ljust(w) for v, w in zip(values, widths, strict=False)), last]).rstrip()

    text = [title] if title else []
    text += [line(names), line(["-" * w for w in widths] + ["-" * min(room, 40)])]
    text += [line(values) for values in cells]
    left_out = [headers.get(c, c).replace("\n", " ") for c in columns if c not in shown]
    if left_out:
        text.append(f"(left out at {console.width} columns: {', '.join(left_out)}; --format json has them)")
    console.file.write("\n".join(text) + "\n")


def build_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    names: Sequence[str] = (),
    texts: Sequence[str] = (),
) -> Table:
    """The one table every command prints: compact, and readable at 80 columns.

    A header wraps only between its words, never inside one; a name (``model``, ``name``, ... and
    ``names``) is never cut; free text (``summary``, ``note``, ... and ``texts``) folds and takes the
    room the other columns leave. Cells are plain text (a plugin's "[timm]" is not Rich markup) unless
    they are already :class:`rich.text.Text`.
    """
    headers = headers or {}
    table = Table(title=title, title_style="bold", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True, show_edge=False)
    cells = [[value if isinstance(value := row.get(c), Text) else Text(_cell(value)) for c in columns]
             for row in rows]
    for index, column in enumerate(columns):
        header = headers.get(column, column)
        word = max((len(part) for part in header.split()), default=1)
        widest = max((cell.cell_len for line in cells for cell in [line[index]]), default=0)
        snug = max(word, widest)  # a header longer than its cells wraps between its words instead of widening
        if column in NAME_COLUMNS or column in names:
            table.add_column(header, no_wrap=True, min_width=snug, max_width=snug)
        elif column in TEXT_COLUMNS or column in texts:
            table.add_column(header, overflow="fold", min_width=max(word, min(widest, 16)))
        else:
            table.add_column(header, overflow="fold", min_width=max(word, min(widest, NUMBER_WIDTH)),
                             max_width=snug)
    for line in cells:
        table.add_row(*line)
    return table


def key_value_table(title: str, values: Mapping[str, Any]) -> Table:
    """A two-column table of fields and their values (``zoo info``, ``zoo runs show``): the field names
    never cut, the values folded."""
    table = Table(title=title, show_header=False, title_style="bold", title_justify="left", box=box.SIMPLE,
                  pad_edge=False, show_edge=False)
    widest = max((len(str(key)) for key in values), default=5)
    table.add_column("field", style="bold", no_wrap=True, min_width=min(widest, 24))
    table.add_column("value", overflow="fold")
    for key, value in values.items():
        if isinstance(value, float):
            value = f"{value:.6g}"
        elif isinstance(value, (dict, list)):
            value = json.dumps(value)
        if not isinstance(value, Text):
            value = Text("-" if value is None or value == "" else str(value))
        table.add_row(Text(str(key)), value)
    return table


def plural(count: int, noun: str) -> str:
    """``1 backend``, ``2 backends``, ``1 run``."""
    singular = noun.removesuffix("s")
    return f"{count} {singular}" if count == 1 else f"{count} {singular}s"


_SETTING = re.compile(r"`([a-z][a-z0-9_]*)`")


def as_flags(message: str) -> str:
    """A library message as the CLI says it: each setting it names in backquotes (batch_size) as the
    option that sets it (``--batch-size``). The library names settings, never flags; this is the one mapping."""
    return _SETTING.sub(lambda match: "--" + match.group(1).replace("_", "-"), message)
