"""Where zoo keeps its own state (``$ZOO_HOME`` or the platform's user data directory) and what it can
rebuild (``$ZOO_CACHE_DIR`` or the platform's user cache directory)."""

from __future__ import annotations

import os
from pathlib import Path

from zoo.api.errors import ZooError

HOME_ENV = "ZOO_HOME"
CACHE_ENV = "ZOO_CACHE_DIR"


def zoo_home_path() -> Path:
    """Where zoo's data directory is, without creating it (for readers that must not write).

    ``$ZOO_HOME`` when set and non-empty, else ``platformdirs.user_data_dir("zoo")``.
    """
    override = os.environ.get(HOME_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("zoo", appauthor=False))


def zoo_home(*, create: bool = True) -> Path:
    """zoo's data directory (run store, run outputs, local datasets), created on first use
    (unless ``create`` is False)."""
    home = zoo_home_path()
    if create:
        _make(home)
    return home


def cache_home() -> Path:
    """Where zoo keeps what it can rebuild (datasets, compiled programs), without creating it:
    ``$ZOO_CACHE_DIR`` when set and non-empty, else ``platformdirs.user_cache_dir("zoo")``."""
    override = os.environ.get(CACHE_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("zoo", appauthor=False))


def runs_dir() -> Path:
    """The default parent of run output directories: ``zoo_home()/runs``, created on first use."""
    path = zoo_home() / "runs"
    _make(path)
    return path


def _make(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ZooError(f"cannot create {directory} ({reason}); set {HOME_ENV} to a writable directory") from None
