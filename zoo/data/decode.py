"""Decoding many image files at once: a process pool, chunks of files, a rich progress bar on stderr.

Workers are forked when that is safe (this process has one thread and no
framework loaded), else started with ``spawn`` (a fork of a process that has
loaded PyTorch or TensorFlow can deadlock). They ignore Ctrl-C: the parent
stops handing out chunks, lets the running ones finish (a fraction of a
second) and re-raises, so the caller's temporary files are removed.

A spawned pool costs a second or so to start, so the first chunk is decoded
here and timed: only when the rest would take longer than that here is a pool started
(one process per usable CPU, at most 8). ``ZOO_DECODE_WORKERS=N`` fixes the
number instead (1: always in this process; N > 1: always a pool of N).
"""

from __future__ import annotations

import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zoo.api.errors import UsageError, ZooError
from zoo.data.pixels import Native, Target, UnreadableImage, read_header, read_image

WORKERS_ENV = "ZOO_DECODE_WORKERS"
# Start a pool only when decoding the rest here would take longer than starting one.
POOL_WORTH_SECONDS = {"fork": 0.2, "spawn": 1.5}
_CHUNK_BYTES = 8 << 20


def requested_workers() -> int | None:
    """``ZOO_DECODE_WORKERS`` when set (a positive integer), else None."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if not raw:
        return None
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if count < 1:
        raise UsageError(f"{WORKERS_ENV} must be a positive integer, got {raw!r}")
    return count


def usable_cpus() -> int:
    """The CPUs this process may run on, at most 8."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 1
    return max(1, min(usable, 8))


@dataclass
class DecodeResult:
    """Per file: its native size and mode (None when bad); bad files by position, with the reason."""

    natives: list[Native | None]
    bad: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0


def _decode_chunk(paths: Sequence[str], target: Target | None) -> tuple[np.ndarray | None, list[Native | str]]:
    """Decode ``paths`` (or only read their headers when ``target`` is None)."""
    images = None if target is None else np.zeros((len(paths), *target.shape), dtype=np.uint8)
    natives: list[Native | str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's warnings about odd but readable files
        for i, path in enumerate(paths):
            try:
                if target is None or images is None:
                    natives.append(read_header(path))
                else:
                    images[i], native = read_image(path, target)
                    natives.append(native)
            except UnreadableImage as exc:
                natives.append(exc.reason)
    return images, natives


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _chunk_size(count: int, workers: int, target: Target | None) -> int:
    per_image = 1 if target is None else max(1, target.height * target.width * target.channels)
    by_bytes = max(16, _CHUNK_BYTES // per_image)
    by_balance = max(16, -(-count // (workers * 8)))
    return int(min(512, by_bytes, by_balance))


class _Bar:
    """A transient rich bar on stderr (nothing when ``label`` is None)."""

    def __init__(self, label: str | None, total: int) -> None:
        self.progress = None
        if label is None:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        # Refreshed from advance(), not by rich's thread: a process with one thread may fork its workers.
        self.progress = Progress(
            TextColumn(label), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True, auto_refresh=False,
        )
        self.started = self.shown = time.perf_counter()
        self.task = self.progress.add_task(label, total=total, rate="")
        self.progress.start()

    def advance(self, count: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, count)
            now = time.perf_counter()
            if now - self.shown >= 0.1 or self.progress.finished:
                done = self.progress.tasks[0].completed
                self.progress.update(self.task, rate=f"{done / max(now - self.started, 1e-9):,.0f} img/s")
                self.progress.refresh()
                self.shown = now

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def decode_files(
    paths: Sequence[str],
    target: Target | None,
    write: Callable[[int, np.ndarray], None] | None = None,
    *,
    label: str | None = None,
    workers: int | None = None,
) -> DecodeResult:
    """Decode every file in ``paths`` to ``target``, handing each chunk to ``write(start, images)``.

    With ``target`` None only the headers are read (sizes and modes). Bad files
    are reported in the result (their rows are left zero), never raised.
    ``label`` names the progress bar; None shows none. ``workers`` (or
    ``ZOO_DECODE_WORKERS``) fixes the number of processes; by default a pool
    is started only when it pays (see the module docstring).
    """
    started = time.perf_counter()
    fixed = workers if workers is not None else requested_workers()
    count = len(paths)
    result = DecodeResult([None] * count)
    bar = _Bar(label, count)

    def take(start: int, images: np.ndarray | None, natives: list[Native | str]) -> None:
        for offset, native in enumerate(natives):
            if isinstance(native, str):
                result.bad[start + offset] = native
            else:
                result.natives[start + offset] = native
        if images is not None and write is not None:
            write(start, images)
        bar.advance(len(natives))

    try:
        pool_size = fixed if fixed is not None else usable_cpus()
        size = _chunk_size(count, pool_size, target)
        first = 0
        if fixed is None and count:  # time one chunk here to see whether a pool pays
            first = min(count, size)
            timer = time.perf_counter()
            take(0, *_decode_chunk(paths[:first], target))
            rest_here = (time.perf_counter() - timer) / first * (count - first)
            if rest_here < POOL_WORTH_SECONDS[_start_method().get_start_method()]:
                pool_size = 1
        starts = range(first, count, size)
        if pool_size <= 1:
            for start in starts:
                take(start, *_decode_chunk(paths[start:start + size], target))
        else:
            _run_pool(paths, target, starts, size, pool_size, take)
    finally:
        bar.close()
    result.seconds = time.perf_counter() - started
    return result


_THREADED_FRAMEWORKS = ("torch", "tensorflow", "jax", "keras")


def _start_method() -> Any:
    """``fork`` when this process has one thread and no framework loaded, else ``spawn``."""
    import multiprocessing
    import threading

    forkable = "fork" in multiprocessing.get_all_start_methods() and sys.platform.startswith("linux")
    if forkable and threading.active_count() == 1 and not any(m in sys.modules for m in _THREADED_FRAMEWORKS):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _run_pool(paths: Sequence[str], target: Target | None, starts: range, size: int, workers: int,
              take: Callable[[int, np.ndarray | None, list[Native | str]], None]) -> None:
    context = _start_method()
    pending: dict[Future[tuple[np.ndarray | None, list[Native | str]]], int] = {}
    queue = iter(starts)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_ignore_interrupts) as pool:
        try:
            # Keep a few chunks per worker in flight: enough to stay busy, few to wait for on Ctrl-C.
            for start in queue:
                pending[pool.submit(_decode_chunk, paths[start:start + size], target)] = start
                if len(pending) >= workers * 3:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    start = pending.pop(future)
                    take(start, *future.result())
                    following = next(queue, None)
                    if following is not None:
                        pending[pool.submit(_decode_chunk, paths[following:following + size], target)] = following
        except BrokenProcessPool as exc:  # a worker was killed (out of memory, a signal)
            raise ZooError(f"a decoding process died ({exc}); retry, or set {WORKERS_ENV}=1 to decode in "
                           "one process") from None
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
