"""Write files so that a reader sees the old file or the whole new one, never a part."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``destination`` (same suffix); when the block
    succeeds, fsync it and rename it onto ``destination``; when it fails, remove it.

    Works for libraries that insist on writing to a path themselves
    (``safetensors.torch.save_file``, ``keras.Model.save``).
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Keep every suffix ("x.weights.h5", "model.keras"): some libraries insist on the full ending.
    fd, name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=f".tmp{''.join(destination.suffixes)}", dir=destination.parent
    )
    os.close(fd)
    temporary = Path(name)
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, destination)
        _fsync_directory(destination.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def atomic_write_bytes(destination: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``destination`` atomically."""
    with atomic_path(destination) as temporary:
        temporary.write_bytes(data)


def atomic_write_text(destination: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``destination`` atomically."""
    atomic_write_bytes(destination, text.encode("utf-8"))
