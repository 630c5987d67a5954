"""The quick change check of an image folder (``check="dirs"``): its directories, not its files.

A cached load with the default check (``files``) ``lstat``-s every file, so a
file rewritten in place (same name, new pixels) is noticed; on 60,000 tiny
files that costs more than everything else in the load. With ``dirs`` the key
is every visible directory's path, mtime, entry count and entry names: one
listing per directory and no ``stat`` per file. A file added, removed or
renamed changes its directory and is noticed; a file rewritten in place
changes no directory and is not, until ``zoo data verify NAME`` (which checks
every file) or a load with ``check="files"``.

:mod:`zoo.data.local` keeps the last quick key beside the cached arrays
(``dirs.json``) with the full fingerprint it was checked against.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from zoo.api.atomic import atomic_write_text

DIRS_FORMAT = 1
POINTER = "dirs.json"


def directory_key(root: str) -> str:
    """Identity of ``root``'s visible directories (path, mtime, entry count, names), read without a
    ``stat`` per file: directory entries carry their type."""
    digest = hashlib.sha256(f"zoo-dirs-{DIRS_FORMAT}\0{root}".encode())
    seen: set[str] = set()
    pending = [(root, "")]
    while pending:
        folder, relative = pending.pop()
        real = os.path.realpath(folder)
        if real in seen:  # a link loop, or a folder linked twice
            continue
        seen.add(real)
        names: list[str] = []
        subfolders: list[str] = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                names.append(entry.name)
                if entry.is_dir():  # no system call unless the entry is a link
                    subfolders.append(entry.name)
        names.sort()
        info = os.stat(folder)
        digest.update(f"\n{relative}\0{info.st_mtime_ns}\0{len(names)}\n".encode("utf-8", "surrogateescape"))
        digest.update("\0".join(names).encode("utf-8", "surrogateescape"))
        pending += [(f"{folder}/{name}", f"{relative}/{name}") for name in sorted(subfolders, reverse=True)]
    return digest.hexdigest()[:20]


def remembered(directory: Path, quick: str) -> str | None:
    """The arrays' key last checked in full while the directories' key was ``quick``, if it still is."""
    try:
        data = json.loads((directory / POINTER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("dirs") != quick or not isinstance(data.get("arrays"), str):
        return None
    return data["arrays"]


def remember(directory: Path, quick: str, key: str) -> None:
    """Record that the files under the directories' key ``quick`` are the arrays ``key`` (best effort:
    without it the next load checks every file)."""
    with contextlib.suppress(OSError):
        atomic_write_text(directory / POINTER, json.dumps({"dirs": quick, "arrays": key}) + "\n")


def forget(directory: Path) -> bool:
    """Drop the quick key, so that the next load checks every file; whether there was one."""
    try:
        (directory / POINTER).unlink()
    except FileNotFoundError:
        return False
    return True
