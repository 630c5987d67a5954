"""Ctrl-C and SIGTERM during a run: the first asks for a clean stop, a second stops at once."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

from zoo.api.control import RunControl

# `ZOO_STOP_AFTER_STEPS=N`: the run stops as on Ctrl-C when the backend asks for the Nth time whether to stop
# (after step N for zoo-torch, and for zoo-keras at one step per execution): an interruption at a known step,
# for fault drills and tests, where a signal's timing would race a short run.
STOP_AFTER_STEPS = "ZOO_STOP_AFTER_STEPS"


def _speaks() -> bool:
    """Whether this process says that it stops: not a data-parallel rank above 0 (one line for all ranks)."""
    return os.environ.get("RANK", "0") == "0"


class _StopAfter(threading.Event):
    """A stop request that also sets itself at its ``checks``-th look."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.left = checks

    def is_set(self) -> bool:
        if not super().is_set():
            self.left -= 1
            if self.left <= 0:
                self.set()
                if _speaks():
                    print(f"zoo: stopping as {STOP_AFTER_STEPS} asks and saving a resumable state",
                          file=sys.stderr, flush=True)
        return super().is_set()


def _stop_after_steps(control: RunControl) -> None:
    text = os.environ.get(STOP_AFTER_STEPS, "").strip()
    if text.isdecimal() and int(text) > 0 and not isinstance(control.stop, _StopAfter):
        control.stop = _StopAfter(int(text))


@contextlib.contextmanager
def stop_on_signals(control: RunControl) -> Iterator[None]:
    """First SIGINT/SIGTERM: ask the backend to stop after the current step (it saves a
    resumable state). Second: stop at once (every file zoo writes is atomic, so nothing
    is half-written). ``ZOO_STOP_AFTER_STEPS=N`` asks for the stop at the Nth step."""
    _stop_after_steps(control)
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: object) -> None:
        if control.stop.is_set():
            raise KeyboardInterrupt
        control.stop.set()
        if _speaks():
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
