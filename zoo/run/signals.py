"""Ctrl-C and SIGTERM during a run: the first asks for a clean stop, a second stops at once."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

from zoo.api.control import RunControl


@contextlib.contextmanager
def stop_on_signals(control: RunControl) -> Iterator[None]:
    """First SIGINT/SIGTERM: ask the backend to stop after the current step (it saves a
    resumable state). Second: stop at once (every file zoo writes is atomic, so nothing
    is half-written)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: object) -> None:
        if control.stop.is_set():
            raise KeyboardInterrupt
        control.stop.set()
        print("zoo: stopping after the current step and saving a resumable state "
              "(Ctrl-C again to quit at once)", file=sys.stderr, flush=True)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def stop_at_once_on_signals() -> Iterator[None]:
    """After the last epoch (its state saved), SIGINT/SIGTERM stop scoring and checkpointing at once:
    nothing is lost (the checkpoint is written atomically) and a resume redoes just that part."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
