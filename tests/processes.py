"""Real zoo processes for the fault tests: stderr read line by line as it comes, and real tmpfs mounts."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


class ZooProcess:
    """A real ``zoo ARGS...`` process whose stderr lines are collected as they come."""

    def __init__(self, zoo_exe: Path, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen([str(zoo_exe), *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)  # the only reader of stderr
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 300) -> str:
        """Block until a stderr line contains ``text``; returns that line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        pytest.fail(f"never saw {text!r}; stderr so far: {''.join(self.seen)[-2000:]}")

    def finish(self, timeout: float = 600) -> tuple[int, str, str]:
        """Wait for the end: (exit code, stdout, all of stderr)."""
        assert self.process.stdout is not None
        out = self.process.stdout.read()
        self.process.wait(timeout=timeout)
        self.reader.join(timeout=30)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.process.returncode, out, "".join(self.seen)

    def kill(self) -> None:
        """SIGKILL it and reap it."""
        self.process.kill()
        self.process.wait(timeout=60)


class Training(ZooProcess):
    """A real ``zoo train ARGS...`` process."""

    def __init__(self, zoo_exe: Path, env: dict[str, str], *args: str) -> None:
        super().__init__(zoo_exe, env, "train", *args)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of ``size`` mounted at ``path`` (created), unmounted afterwards; skips the test
    where mounting is refused (not root, no CAP_SYS_ADMIN)."""
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def remount(path: Path, mode: str) -> None:
    """Remount the tmpfs at ``path`` read-only (``ro``) or read-write (``rw``)."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True, capture_output=True)
