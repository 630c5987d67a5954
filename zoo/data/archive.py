"""Safe archive extraction: every member checked first, extracted to a temporary directory.

``tarfile``'s ``filter="data"`` is passed too, but not relied on alone:
Python 3.11.7 predates the fixes for known bypasses of it (CVE-2025-4517
and related), so each member's name and type is checked before anything
is written. Only regular files and directories with relative names inside
the target are accepted.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path

from zoo.api.errors import ZooError

_DRIVE = re.compile(r"^[A-Za-z]:")


def member_problem(member: tarfile.TarInfo) -> str | None:
    """Why ``member`` may not be extracted, or None when it is a plain file or directory."""
    name = member.name
    if not name or "\x00" in name:
        return "has an empty or invalid name"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "has an absolute path"
    if ".." in re.split(r"[\\/]+", name):
        return "has a '..' component"
    if member.issym() or member.islnk():
        return f"is a link (to {member.linkname!r})"
    if member.isdev():
        return "is a device or FIFO"
    if not (member.isfile() or member.isdir()):
        return "is not a regular file or directory"
    return None


def check_members(tar: tarfile.TarFile, source: str, root: Path) -> list[tarfile.TarInfo]:
    """All members of ``tar``, after checking that each would land inside ``root``."""
    members = tar.getmembers()
    real_root = os.path.realpath(root)
    for member in members:
        problem = member_problem(member)
        if problem is None:
            target = os.path.realpath(os.path.join(real_root, member.name))
            if target != real_root and not target.startswith(real_root + os.sep):
                problem = "would be written outside the target directory"
        if problem is not None:
            raise ZooError(f"refusing to extract {source}: member {member.name!r} {problem}")
    return members


def extract_archive(archive: Path, destination: Path) -> Path:
    """Extract the tar ``archive`` (any compression) so that it becomes ``destination``.

    Members are checked before anything is written, then extracted with
    ``filter="data"`` into a temporary sibling directory, which is renamed to
    ``destination`` only when complete. An existing ``destination`` is reused.
    """
    archive, destination = Path(archive), Path(destination)
    if destination.is_dir():
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = check_members(tar, str(archive), partial)
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(partial, members=members, filter="data")
                else:  # pragma: no cover - Python without extraction filters
                    tar.extractall(partial, members=members)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise ZooError(
                f"cannot extract {archive}: {exc}; it is damaged or truncated, delete it and fetch it again"
            ) from exc
        try:
            os.rename(partial, destination)
        except OSError:
            if not destination.is_dir():  # someone else finishing first is fine
                raise
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return destination
