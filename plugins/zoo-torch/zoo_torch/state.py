"""Resumable training states: one ``.pt`` file holding everything a run needs to continue exactly.

A state holds the model's ``state_dict`` (weights and BatchNorm statistics),
the optimizer's and the scheduler's, the data generator's state at the start
of the current epoch (to regenerate that epoch's permutation) and now (for the
augmentation draws still to come), torch's global RNG states (dropout draws
from them: the CPU's, and the CUDA device's when training on one), and, for a
state saved part-way through an epoch, that epoch's running sums. Tensors stay
tensors, so the sums and RNG states come back bit for bit.

Written with ``torch.save``; read with ``torch.load(..., weights_only=True)``
only, which unpickles tensors and plain containers and refuses anything that
could run code. The core (:class:`zoo.resume.RunControl`) makes the write
atomic and checks the file's sha256 before a resume.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from zoo.api import ZooError

SUFFIX = ".pt"
FORMAT = "zoo-torch-state/1"


@dataclass
class PartialEpoch:
    """Sums of an epoch interrupted after ``step`` batches (device tensors, as the loop keeps them)."""

    step: int
    loss_sum: Tensor
    correct: Tensor
    seen: int


@dataclass
class TrainState:
    """What :func:`read_state` found, ready for :func:`restore`."""

    model: dict[str, Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any] | None
    generator_device: str
    generator_epoch_start: Tensor
    generator_now: Tensor
    cpu_rng: Tensor
    cuda_rng: Tensor | None
    partial: PartialEpoch | None


def finite(model: nn.Module) -> bool:
    """Whether every floating-point weight and buffer of ``model`` is finite (one sync)."""
    tensors = [t for t in model.state_dict().values() if t.is_floating_point() and t.numel()]
    if not tensors:
        return True
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all().item())


def write_state(
    path: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    generator: torch.Generator,
    generator_epoch_start: Tensor,
    device: torch.device,
    partial: PartialEpoch | None,
) -> None:
    """``torch.save`` the whole training state to ``path``."""
    model = getattr(model, "_orig_mod", model)  # a torch.compile wrapper shares the weights
    state: dict[str, Any] = {
        "format": FORMAT,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "generator": {"device": device.type, "epoch_start": generator_epoch_start, "now": generator.get_state()},
        "rng": {
            "cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        },
        "partial": None if partial is None else {
            "step": partial.step, "loss_sum": partial.loss_sum, "correct": partial.correct, "seen": partial.seen,
        },
    }
    with open(path, "wb") as handle:
        sink = _Sink(handle)
        try:
            torch.save(state, sink)
        except RuntimeError:
            if sink.error is not None:  # a full disk: let the core say so in one line
                raise sink.error from None
            raise


class _Sink:
    """A file's ``write`` that remembers its ``OSError``: torch's zip writer turns one
    (a full disk, say) into a bare ``RuntimeError`` ("unexpected pos ...")."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.handle.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.handle.flush()


def read_state(path: Path, device: torch.device) -> TrainState:
    """Load a state written by :func:`write_state`, tensors on ``device`` (RNG states on the CPU)."""
    path = Path(path)

    def refuse(reason: str) -> ZooError:
        return ZooError(f"cannot resume from {path}: {reason}; start a new run")

    if not path.name.endswith(SUFFIX):
        raise refuse(f"not a zoo-torch training state (*{SUFFIX})")
    try:
        state = torch.load(path, weights_only=True, map_location=device)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, OSError, EOFError, ValueError) as exc:
        raise refuse(" ".join(str(exc).split())[:160]) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise refuse(f"not a {FORMAT} file")
    try:
        partial = state["partial"]
        return TrainState(
            model=state["model"],
            optimizer=state["optimizer"],
            scheduler=state["scheduler"],
            generator_device=str(state["generator"]["device"]),
            generator_epoch_start=state["generator"]["epoch_start"].cpu(),
            generator_now=state["generator"]["now"].cpu(),
            cpu_rng=state["rng"]["cpu"].cpu(),
            cuda_rng=None if state["rng"]["cuda"] is None else state["rng"]["cuda"].cpu(),
            partial=None if partial is None else PartialEpoch(
                int(partial["step"]), partial["loss_sum"].to(device), partial["correct"].to(device),
                int(partial["seen"]),
            ),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise refuse(f"its {exc} entry is missing or malformed") from None


def restore(
    state: TrainState,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    device: torch.device,
) -> bool:
    """Put ``state`` into a freshly built model, optimizer and scheduler and torch's global RNGs.

    Returns whether the saved data-generator states fit ``device`` (a state saved on
    another kind of device has a generator state of another form).
    """
    try:
        model.load_state_dict(state.model, strict=True)
        optimizer.load_state_dict(state.optimizer)
    except (RuntimeError, ValueError, KeyError) as exc:
        detail = " ".join(str(exc).split())[:160]
        raise ZooError(f"cannot resume: the saved state does not fit this model ({detail}); start a new run") from None
    if scheduler is not None and state.scheduler is not None:
        scheduler.load_state_dict(state.scheduler)
    torch.set_rng_state(state.cpu_rng)
    if device.type == "cuda" and state.cuda_rng is not None:
        torch.cuda.set_rng_state(state.cuda_rng, device)
    return state.generator_device == device.type
