"""``zoo compare --jobs N``: N worker slots at once on this machine, each with its own device share.

Each slot is a :class:`~zoo.grid.pool.WorkerPool` (one live worker process, kept while its jobs share a
backend) driven by one thread; a slot takes the next job of the backend its worker already runs, else the
next job in line. The workers write their runs to the run store themselves: the store is SQLite in WAL mode
with one short transaction per write and a busy timeout (``zoo.run.sqlite_file``), so concurrent writers on
one host are safe (tests/test_distributed.py checks the store after a ``--jobs 2`` comparison).

Ctrl-C stops handing out jobs, passes the interrupt to every live worker (its run saves a resumable state and
is recorded ``interrupted``), waits for them, and keeps what finished.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from zoo.grid.jobs import Job, JobResult
from zoo.grid.placement import Slot
from zoo.grid.pool import WorkerPool

Announce = Callable[[str], None]
INTERRUPTED_BY_USER = "interrupted by the user"


def run_parallel(
    jobs: Sequence[tuple[str, Job]],
    slots: Sequence[Slot],
    *,
    announce: Announce | None = None,
    timeout: float | None = None,
    on_result: Callable[[int, JobResult], None] | None = None,
) -> tuple[list[JobResult], bool]:
    """Run ``jobs`` (``(backend, job)`` pairs) on ``slots``: their results in the jobs' order, and whether
    Ctrl-C stopped the run (unstarted and interrupted jobs then say so)."""
    waiting: deque[int] = deque(range(len(jobs)))
    results: dict[int, JobResult] = {}
    lock, stop = threading.Lock(), threading.Event()
    pools = [WorkerPool(announce, timeout, env=slot.env) for slot in slots]

    def take(pool: WorkerPool) -> int | None:
        with lock:
            if stop.is_set() or not waiting:
                return None
            same = next((i for i in waiting if jobs[i][0] == pool.key), waiting[0])
            waiting.remove(same)
            return same

    def serve(pool: WorkerPool) -> None:
        while (index := take(pool)) is not None:
            backend, job = jobs[index]
            started = time.time()
            try:
                outcome = pool.run(backend, job.to_json())
                result = JobResult.from_json(outcome.result).with_wall(outcome.seconds)
                if outcome.returncode == 130 or (stop.is_set() and not result.ok):
                    result = JobResult.failed(INTERRUPTED_BY_USER, status="interrupted", model=job.model)
            except Exception as exc:  # the slot goes on with the next job
                result = JobResult.failed(f"{type(exc).__name__}: {exc}", model=job.model)
            if not result.started_at:  # no word from the worker: the driver's clock
                result = dataclasses.replace(result, started_at=started, ended_at=time.time())
            with lock:
                results[index] = result
            if on_result is not None:
                on_result(index, result)

    threads = [threading.Thread(target=serve, args=(pool,), name=f"zoo-slot-{n}", daemon=True)
               for n, pool in enumerate(pools)]
    interrupted = False
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        for pool in pools:
            pool.interrupt()
        for thread in threads:
            thread.join()
    finally:
        for pool in pools:
            pool.close()
    missing = JobResult.failed(INTERRUPTED_BY_USER, status="interrupted")
    return [results.get(index, dataclasses.replace(missing, model=jobs[index][1].model))
            for index in range(len(jobs))], interrupted
