"""Folder locks: one zoo process writes into a run folder at a time.

The lock is ``flock`` on ``DIR/.zoo-lock``: the kernel drops it when the process
ends, however it ends (``kill -9``, a crash, power loss), so a lock left by a
dead process is simply taken over; no pid file has to be judged stale. The file
holds the owner's pid only to name it in the refusal. On platforms without
``fcntl`` (Windows) folders are not locked.
"""

from __future__ import annotations

import os
from pathlib import Path

from zoo.api.errors import ZooError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".zoo-lock"


class FolderInUse(ZooError):
    """Another live process holds the folder's lock."""


class FolderLock:
    """An exclusive lock on a folder, held until :meth:`release` (or the process's end)."""

    def __init__(self, directory: Path, fd: int | None) -> None:
        self.directory = directory
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (the lock file stays: removing it would race with a process opening it)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_folder(directory: Path, *, fix: str = "wait for it to end or choose another `output`") -> FolderLock:
    """Lock ``directory`` (which must exist) for this process, or raise :class:`FolderInUse`
    naming the process that holds it (and ``fix``)."""
    if fcntl is None:  # pragma: no cover - Windows
        return FolderLock(directory, None)
    try:
        fd = os.open(Path(directory) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ZooError(f"cannot lock {directory} ({exc.strerror or exc}); {fix}") from None
    _take(fd, directory, fix)
    try:  # the pid only names the owner in a refusal; a full disk may refuse these few bytes
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass
    return FolderLock(directory, fd)


def probe_folder(directory: Path, *, fix: str = "wait for it to end or choose another `output`") -> None:
    """Raise :class:`FolderInUse` if a live process holds ``directory``'s lock; creates nothing."""
    if fcntl is None:  # pragma: no cover - Windows
        return
    try:
        fd = os.open(Path(directory) / LOCK_NAME, os.O_RDONLY)
    except OSError:  # no lock file (never locked) or no folder: not in use
        return
    _take(fd, directory, fix)
    os.close(fd)


def folder_in_use(directory: Path) -> bool:
    """Whether a live process holds ``directory``'s lock (without taking it for longer than a look)."""
    try:
        probe_folder(directory)
    except FolderInUse:
        return True
    return False


def _take(fd: int, directory: Path, fix: str) -> None:
    """flock ``fd`` exclusively without waiting; on failure close it and raise :class:`FolderInUse`."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = _read_pid(fd)
        os.close(fd)
        who = f"pid {holder}" if holder else "another process"
        raise FolderInUse(f"{directory} is in use by another zoo run ({who}); {fix}") from None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdecimal() else None
