"""Memory bounds: refuse a batch that cannot fit before any work, and turn out-of-memory into one line.

The estimate of a training step is the model's activations for one image (the sum of
its layers' outputs, from :meth:`zoo.backend.Backend.summarize`, fp32) times the
images in a step, plus weights, gradients and two Adam moments. Measured on
``alexnet-torch-bn`` at 56x56 (PyTorch, CPU) the peak resident memory grew by
0.87x that per image (807 KB against 925 KB estimated), so the estimate errs on the
high side by little, and a refusal means the step would not fit.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path

from zoo.api.backend import ModelSummary
from zoo.api.errors import UsageError, ZooError, is_out_of_memory

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

FLOAT_BYTES = 4
PARAM_COPIES = 4  # weights, gradients and Adam's two moments
# Leave this share of the available memory to everything else in the process (data, framework, buffers).
USABLE_SHARE = 0.8
# What frameworks raise when an allocation fails: torch (CUDA and others), TensorFlow, JAX/XLA.


def activation_bytes(summary: ModelSummary) -> int:
    """fp32 bytes of every layer's output for one image."""
    return FLOAT_BYTES * sum(math.prod(layer.output_shape) for layer in summary.layers)


def training_step_bytes(summary: ModelSummary, images: int) -> int:
    """About how much memory one training step on ``images`` images takes."""
    return images * activation_bytes(summary) + PARAM_COPIES * FLOAT_BYTES * summary.param_count


def available_memory() -> int | None:
    """Bytes this process may still allocate: the least of the host's available memory, its
    cgroup's headroom and the address-space limit's; None when none of them is known."""
    limits = [_meminfo_available(), _cgroup_headroom(), _address_space_headroom()]
    known = [value for value in limits if value is not None]
    return min(known) if known else None


def check_training_batch(
    summary: ModelSummary, *, batch_size: int, train_images: int, what: str, device: str
) -> None:
    """Refuse (``UsageError``, before any work) a batch whose training step cannot fit in host memory.

    Only on the CPU: a GPU's memory is the framework's to report, and its out-of-memory
    error becomes one line through :func:`out_of_memory`.
    """
    if not device.lower().startswith("cpu"):
        return
    available = available_memory()
    if available is None:
        return
    images = min(batch_size, max(train_images, 1))
    needed = training_step_bytes(summary, images)
    budget = available * USABLE_SHARE
    if needed <= budget:
        return
    per_image = activation_bytes(summary)
    fits = int((budget - training_step_bytes(summary, 0)) // per_image) if per_image else 0
    step = f"{images:,} images a step" if images != batch_size else "a step"
    hint = f"try `batch_size` {_power_of_two_below(fits)}" if fits >= 1 else "this model does not fit at all here"
    raise UsageError(
        f"`batch_size` {batch_size} ({step}) needs about {_gb(needed)} for {what}, but {_gb(available)} of memory "
        f"is available; {hint}"
    )


@contextlib.contextmanager
def out_of_memory(*, batch_size: int | None, what: str = "") -> Iterator[None]:
    """Turn a framework's or numpy's out-of-memory error into one ``ZooError`` line naming the
    batch size and a smaller one to try."""
    try:
        yield
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        cause = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        where = f" {what}" if what else ""
        if batch_size is None:
            raise ZooError(f"out of memory{where} ({cause}); free memory or use a smaller input") from None
        smaller = max(1, batch_size // 2)
        raise ZooError(f"out of memory at `batch_size` {batch_size}{where} ({cause}); try `batch_size` {smaller}"
                       ) from None


def _gb(size: float) -> str:
    return f"{size / 1e9:,.1f} GB"


def _power_of_two_below(n: int) -> int:
    return 1 << (max(n, 1).bit_length() - 1)


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_headroom() -> int | None:
    """cgroup v2: memory.max minus memory.current of this process's cgroup."""
    try:
        relative = Path("/proc/self/cgroup").read_text().split("::", 1)[1].strip()
        group = Path("/sys/fs/cgroup") / relative.lstrip("/")
        limit = (group / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((group / "memory.current").read_text()))
    except (OSError, ValueError, IndexError):
        return None


def _address_space_headroom() -> int | None:
    if resource is None:  # pragma: no cover - Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(0, soft - int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        return None
    return None
