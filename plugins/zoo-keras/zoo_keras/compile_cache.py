"""JAX's persistent compilation cache for zoo-keras on JAX: a program compiles once per machine, not per process.

Every ``zoo train``, ``evaluate``, ``predict``, ``compare`` and ``bench`` process on JAX traces and
compiles its step functions (and the small programs that initialise the weights) anew: seconds on a
CPU, more on a GPU, where XLA also autotunes. JAX can keep the compiled programs on disk and load
them when the same program, on the same device, with the same JAX and flags, is asked for again
(docs.jax.dev, "Persistent compilation cache"). zoo turns that on in ``$ZOO_CACHE_DIR/compiled/jax``
(by default ``~/.cache/zoo/compiled/jax``), bounded to :data:`MAX_BYTES` with JAX's least recently
used eviction, whose file lock also keeps concurrent workers from reading a half-written entry.

The user's choice wins: ``ZOO_COMPILE_CACHE=off`` keeps JAX's default (no disk cache), and a
``JAX_COMPILATION_CACHE_DIR`` the user set is left as JAX reads it, with JAX's other settings.
A loaded program is the program compiled before, so results do not change; only the compile
seconds do, and each run records how many of its programs came from the cache.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from typing import Any

from zoo.api import cache_home

SETTING_ENV = "ZOO_COMPILE_CACHE"  # "off": no disk cache (JAX's default)
MAX_BYTES = 4 << 30  # JAX evicts the least recently used programs past this size
HIT, MISS = "/jax/compilation_cache/cache_hits", "/jax/compilation_cache/cache_misses"

_events: Counter[str] = Counter()
_lock = threading.Lock()
_setting: str | None = None


def cache_dir() -> str:
    """Where zoo keeps JAX's compiled programs (not created here)."""
    return str(cache_home() / "compiled" / "jax")


def use_compile_cache(jax: Any) -> str:
    """Turn on JAX's persistent compilation cache for this process, unless the user chose otherwise, and
    count its hits and misses from now on. Call before anything compiles. Returns :func:`setting`."""
    global _setting
    if _setting is not None:
        return _setting
    user_dir = os.environ.get("JAX_COMPILATION_CACHE_DIR", "").strip()
    if os.environ.get(SETTING_ENV, "").strip().lower() in {"off", "0", "no", "false"}:
        _setting = "off"
    elif user_dir:
        _setting = f"user: {user_dir}"
    elif not _filelock_installed():  # JAX's size bound, and so its lock, need it
        _setting = "off (filelock is not installed)"
    else:
        jax.config.update("jax_compilation_cache_dir", cache_dir())
        # Weight initialisers and batch makers compile in well under JAX's default threshold of 1 s each,
        # and add up to seconds a run on a CPU: keep every program.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
        _setting = cache_dir()
    if not _setting.startswith("off"):
        jax.monitoring.register_event_listener(_count)
    return _setting


def _filelock_installed() -> bool:
    try:
        import filelock  # noqa: F401
    except ImportError:
        return False
    return True


def setting() -> str:
    """What this process uses: zoo's cache directory, ``user: DIR``, ``off`` (with the reason when zoo, not the
    user, turned it off), or ``""`` before :func:`use_compile_cache` (Keras on another backend)."""
    return _setting or ""


def _count(event: str, **_: Any) -> None:
    if event in (HIT, MISS):
        with _lock:
            _events[event] += 1


def cache_counts() -> tuple[int, int] | None:
    """(hits, misses) of the persistent cache in this process so far: programs loaded, programs compiled;
    None when no cache is in use."""
    if not _setting or _setting.startswith("off"):
        return None
    with _lock:
        return _events[HIT], _events[MISS]
