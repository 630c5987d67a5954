"""Data-parallel training under torchrun (``zoo train MODEL --nproc-per-node N``): DDP, one process per device.

torchrun sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; with ``WORLD_SIZE`` above 1 :func:`zoo_torch.train.fit`
joins the process group (NCCL on CUDA, gloo on the CPU) and wraps the model in DDP. The recipe's
``batch_size`` is the *global* batch: every rank draws the same permutation and the same augmentation (one
seeded generator each), makes the whole batch's inputs and trains on its 1/N slice; DDP averages the
gradients, and each rank's loss is scaled so that the average is the whole batch's mean loss. So the learning
rate is not scaled: N processes follow one process's run at the same global batch, up to the order of float
sums (and per-rank BatchNorm statistics, dropout masks). Rank 0 alone validates, saves states and returns the
model the core scores and checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn


@dataclass(frozen=True)
class World:
    """This process's place among the data-parallel processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def parallel(self) -> bool:
        """Whether several processes train together."""
        return self.size > 1

    @property
    def primary(self) -> bool:
        """Rank 0: validates, saves states and the checkpoint, writes the run store."""
        return self.rank == 0


def world() -> World:
    """This process's rank and world size, from torchrun's environment variables."""
    return World(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")),
                 int(os.environ.get("LOCAL_RANK", "0")))


def device_for(device: torch.device, here: World) -> torch.device:
    """A rank's device: its own GPU (``cuda:LOCAL_RANK``) when training on CUDA."""
    if here.parallel and device.type == "cuda" and device.index is None:
        return torch.device("cuda", here.local_rank)
    return device


def join(device: torch.device) -> None:
    """Join the process group torchrun set up (once per process)."""
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def leave() -> None:
    """Wait for every rank, then leave the process group."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """The DDP module that averages gradients across ranks (parameters broadcast from rank 0 first)."""
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def shard(batch: Tensor, here: World) -> tuple[slice, float]:
    """This rank's slice of a global batch of ``len(batch)`` examples, and the weight that turns its summed
    loss into its share of the batch mean (``size / n``; DDP averages over ranks). A rank whose slice would
    be empty (a last batch smaller than the world) takes one example with weight 0, so that every rank still
    steps together."""
    count = len(batch)
    base, extra = divmod(count, here.size)
    start = here.rank * base + min(here.rank, extra)
    stop = start + base + (1 if here.rank < extra else 0)
    if stop == start:
        return slice(0, 1), 0.0
    return slice(start, stop), here.size / count


def agree(flag: bool, device: torch.device) -> bool:
    """Whether any rank raised ``flag`` (every rank must call this at the same step)."""
    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def total(value: Tensor) -> Tensor:
    """``value`` summed over the ranks (a copy)."""
    summed = value.clone()
    dist.all_reduce(summed)
    return summed
