"""The one exception type users can cause, and its exit codes."""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2


class ZooError(Exception):
    """An error the user can act on: printed as one line, never a traceback.

    ``exit_code`` follows the CLI's convention: 1 when the work failed,
    2 when the request itself was wrong (unknown name, bad option value).
    """

    exit_code: int = EXIT_FAILURE

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(ZooError):
    """The request names something that does not exist or is malformed (exit 2)."""

    exit_code = EXIT_USAGE


class PluginError(ZooError):
    """A plugin failed to load, failed inside a hook, or broke the contract."""


class TrainingInterrupted(ZooError):
    """Training stopped on request (Ctrl-C, SIGTERM) after saving a resumable state."""

    exit_code = 130

    def __init__(self, message: str, *, epoch: int = 0, step: int = 0) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step


class NonFiniteLoss(ZooError):
    """The training loss became NaN or infinite; the run cannot go on."""

    def __init__(self, epoch: int, step: int, value: float) -> None:
        super().__init__(
            f"the training loss became {value} at epoch {epoch}, step {step}; lower the learning rate (`lr`) "
            "or check the data's normalisation"
        )
        self.epoch = epoch
        self.step = step


class DiskFull(ZooError):
    """A write failed because the file system is full (``ENOSPC``, ``EDQUOT``, SQLite's ``SQLITE_FULL``)."""


def describe_error(exc: BaseException) -> str:
    """``ExcType: message`` on one line."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


# How frameworks name a failed allocation (matched by name: zoo.api imports no framework).
OOM_TYPES = ("OutOfMemoryError", "ResourceExhaustedError")
OOM_WORDS = ("out of memory", "can't allocate memory", "cannot allocate memory", "resource_exhausted",
             "failed to allocate")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` reports a failed allocation (matched by name: the core imports no framework)."""
    if isinstance(exc, MemoryError):
        return True
    if any(cls.__name__ in OOM_TYPES for cls in type(exc).__mro__):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(word in text for word in OOM_WORDS)
