"""The worker processes of ``zoo compare`` and ``zoo bench``: one per backend, kept from model to model.

Each job (one model and seed) runs in ``python -m zoo.grid.worker --serve``, a process that imported its
backend's framework for the first job and keeps it for the next one of the same backend: importing
torch or TensorFlow and starting a device costs seconds per model otherwise (``docs/benchmarks.md``,
"Fixed cost per model"). Isolation stays per job where it matters:

- a job that raises gives its row a failure and the worker goes on;
- a worker that crashes, is killed or hangs past the timeout costs that job's row; the next job
  starts a fresh worker;
- only one worker is alive at a time, so TensorFlow or JAX (which reserve most of a GPU's memory)
  never sit idle beside a PyTorch worker: switching to another backend ends the previous worker.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Announce = Callable[[str], None]
POLL_SECONDS = 0.02  # how often the parent looks for a job's result file
EXIT_SECONDS = 10.0  # how long a worker gets to exit (or to honour Ctrl-C) before it is killed


@dataclass
class WorkerOutcome:
    """What one job produced (``result``) or why it produced nothing, and its wall seconds."""

    result: dict[str, Any]
    returncode: int
    seconds: float = 0.0


class _Worker:
    """One ``python -m zoo.grid.worker --serve`` process: job lines in on stdin, stderr relayed."""

    def __init__(self, announce: Announce | None, env: dict[str, str] | None = None) -> None:
        env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zoo.grid.worker", "--serve"],
            stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
        )
        self.tail: collections.deque[str] = collections.deque(maxlen=20)
        self.announce = announce
        self.reader = threading.Thread(target=self._relay, daemon=True)
        self.reader.start()

    def _relay(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            line = line.rstrip()
            if not line:
                continue
            self.tail.append(line)
            if self.announce is not None:
                self.announce(line)

    def send(self, job_path: Path, result_path: Path) -> bool:
        """Hand the worker a job; False when it is gone."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(f"{job_path}\t{result_path}\n")
            self.process.stdin.flush()
        except OSError:
            return False
        return True

    def close(self) -> None:
        """Let the worker finish (end of input), or kill it when it does not."""
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout=EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
        self.reader.join(timeout=5)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def interrupt(self) -> None:
        """Pass Ctrl-C on (the training saves a resumable state) and end the input, so the worker exits
        after the job; kill it if it lingers."""
        self.process.send_signal(signal.SIGINT)
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout=EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()


class WorkerPool:
    """Runs jobs in worker processes, reusing the live one while jobs keep the same ``key`` (the backend)."""

    def __init__(self, announce: Announce | None = None, timeout: float | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.announce, self.timeout, self.env = announce, timeout, env
        self._key: str | None = None
        self._worker: _Worker | None = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the live worker."""
        if self._worker is not None:
            self._worker.close()
        self._worker, self._key = None, None

    @property
    def key(self) -> str | None:
        """The backend whose worker is live, if any (a job of the same backend reuses it)."""
        return self._key

    def interrupt(self) -> None:
        """Pass Ctrl-C on to the live worker from another thread (``--jobs``): its run saves a resumable state,
        the job waiting on it ends without a result."""
        worker = self._worker
        if worker is not None and worker.process.poll() is None:
            with contextlib.suppress(OSError):
                worker.process.send_signal(signal.SIGINT)

    def _drop(self) -> None:
        self._worker, self._key = None, None

    def _worker_for(self, key: str) -> _Worker:
        if self._worker is not None and (self._key != key or self._worker.process.poll() is not None):
            self.close()
        if self._worker is None:
            self._worker, self._key = _Worker(self.announce, self.env), key
        return self._worker

    def run(self, key: str, job: dict[str, Any]) -> WorkerOutcome:
        """Run ``job`` in the worker for ``key``; relay its stderr; a failure's reason names the cause."""
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="zoo-worker-") as tmp:
            job_path, result_path = Path(tmp, "job.json"), Path(tmp, "result.json")
            job_path.write_text(json.dumps({**job, "spawned_at": time.time()}))
            worker = self._worker_for(key)
            worker.tail.clear()
            if not worker.send(job_path, result_path):
                self.close()  # it died between jobs: one fresh try
                worker = self._worker_for(key)
                worker.send(job_path, result_path)
            try:
                while not result_path.exists() and worker.process.poll() is None:
                    if self.timeout is not None and time.perf_counter() - started > self.timeout:
                        worker.kill()
                        self._drop()
                        return WorkerOutcome({"status": "failed", "reason": f"timed out after {self.timeout:.0f} s"},
                                             -9, time.perf_counter() - started)
                    time.sleep(POLL_SECONDS)
            except KeyboardInterrupt:
                worker.interrupt()
                self._drop()
                raise
            if result_path.exists():
                result = json.loads(result_path.read_text())
                return WorkerOutcome(result, 0 if result.get("status") == "ok" else 1, time.perf_counter() - started)
            returncode = worker.process.wait()
            worker.reader.join(timeout=5)
            self._drop()
            reason = crash_reason(returncode, list(worker.tail))
            return WorkerOutcome({"status": "failed", "reason": reason}, returncode, time.perf_counter() - started)


def crash_reason(returncode: int, tail: Sequence[str]) -> str:
    """``worker killed (out of memory?): <its last line>`` and the like."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        cause = "killed (out of memory?)" if name == "SIGKILL" else f"crashed with {name}"
    else:
        cause = f"exited with status {returncode}"
    last = next((line for line in reversed(tail) if line.strip()), "")
    return f"worker {cause}" + (f": {last[-200:]}" if last else "")
