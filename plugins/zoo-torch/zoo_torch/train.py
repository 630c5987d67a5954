"""zoo-torch's training loop over device-resident data, and its evaluation/prediction passes."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.backend import EpochMetrics, FitResult, Preprocessing, TrainingData, TrainingProgress
from zoo.config import TrainConfig
from zoo.errors import ZooError
from zoo.loading import load_object
from zoo.specs import ModelSpec
from zoo_torch import runtime
from zoo_torch.data import DeviceImages


def build(spec: ModelSpec, *, num_classes: int, in_chans: int, input_size: tuple[int, int]) -> nn.Module:
    """Call the spec's builder (which refuses too small an input)."""
    builder = load_object(spec.builder)
    return builder(num_classes=num_classes, in_chans=in_chans, input_size=tuple(input_size))


def fit(spec: ModelSpec, data: TrainingData, config: TrainConfig, progress: TrainingProgress) -> FitResult:
    """Train a fresh model on ``data.train`` (see :class:`zoo.backend.Backend.fit`)."""
    started = time.perf_counter()
    device = runtime.resolve_device(config.device)
    channels_last = runtime.use_channels_last(config.channels_last, device)
    with runtime.deterministic(config.deterministic):
        torch.manual_seed(config.seed)
        generator = torch.Generator(device=device).manual_seed(config.seed)
        prep = data.preprocessing
        model = build(spec, num_classes=data.num_classes, in_chans=prep.in_chans, input_size=prep.input_size)
        model = model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
        if len(data.train) == 0:
            raise ZooError(f"no training images for {spec.name}; check --limit and --val-split")
        train = DeviceImages(data.train.images, data.train.labels, prep, device, channels_last=channels_last)
        val = None
        if data.val is not None and len(data.val):
            val = DeviceImages(data.val.images, data.val.labels, prep, device, channels_last=channels_last)
        optimizer = runtime.create_optimizer(model, config.optimizer, config.lr, config.weight_decay)
        scheduler = runtime.create_scheduler(optimizer, config.scheduler, config.epochs)
        step_model: nn.Module = torch.compile(model) if config.compile else model
        augmentation = data.augmentation
        history: list[EpochMetrics] = []
        steps = math.ceil(len(train) / config.batch_size)
        for epoch in range(1, config.epochs + 1):
            progress.start_epoch(epoch, config.epochs, steps)
            epoch_start = time.perf_counter()
            lr = float(optimizer.param_groups[0]["lr"])
            loss, accuracy = _train_epoch(
                step_model, optimizer, train, config, augmentation, generator, device, progress
            )
            train_seconds = time.perf_counter() - epoch_start  # loss.item() above synchronised
            val_loss = val_accuracy = None
            if val is not None:
                val_loss, val_accuracy = evaluate(step_model, val, config.batch_size, device, config.precision)
            if scheduler is not None:
                scheduler.step(epoch)
            metrics = EpochMetrics(
                epoch=epoch,
                train_loss=loss,
                train_accuracy=accuracy,
                val_loss=val_loss,
                val_accuracy=val_accuracy,
                images_per_sec=len(train) / train_seconds,
                seconds=time.perf_counter() - epoch_start,
                lr=lr,
            )
            history.append(metrics)
            progress.end_epoch(metrics)
        model.eval()
        extra: dict[str, Any] = {
            "channels_last": channels_last,
            "compiled": config.compile,
            "precision": config.precision,
            "optimizer": type(optimizer).__name__,
        }
        return FitResult(
            model=model,
            history=history,
            device=runtime.device_label(device),
            seconds=time.perf_counter() - started,
            extra=extra,
        )


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: DeviceImages,
    config: TrainConfig,
    augmentation: Any,
    generator: torch.Generator,
    device: torch.device,
    progress: TrainingProgress,
) -> tuple[float, float]:
    """One pass over ``train`` in shuffled batches; loss and accuracy are summed on the
    device and read once at the end (the only synchronisation of the epoch)."""
    model.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    order = torch.randperm(len(train), device=device, generator=generator)
    for batch in order.split(config.batch_size):
        x = train.inputs(batch, augmentation, generator)
        y = train.labels[batch]
        with runtime.autocast(device, config.precision):
            logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * batch.numel()
        correct += (logits.detach().argmax(1) == y).sum()
        progress.advance()
    return loss_sum.item() / len(train), correct.item() / len(train)


def _logits(model: nn.Module, images: DeviceImages, batch_size: int, device: torch.device, precision: str) -> Tensor:
    """Float32 logits of every example, in order, in eval mode under inference_mode."""
    model.eval()
    outputs = []
    with torch.inference_mode(), runtime.autocast(device, precision):
        for start in range(0, len(images), batch_size):
            outputs.append(model(images.inputs(slice(start, start + batch_size))).float())
    return torch.cat(outputs)


def evaluate(
    model: nn.Module, images: DeviceImages, batch_size: int, device: torch.device, precision: str = "fp32"
) -> tuple[float, float]:
    """Mean cross-entropy and top-1 accuracy on ``images``."""
    logits = _logits(model, images, batch_size, device, precision)
    with torch.inference_mode():
        loss = F.cross_entropy(logits, images.labels)
        accuracy = (logits.argmax(1) == images.labels).float().mean()
    return float(loss.item()), float(accuracy.item())


def predict_proba(
    model: nn.Module, images: np.ndarray, preprocessing: Preprocessing, *, batch_size: int, device: str
) -> np.ndarray:
    """Softmax probabilities, float32 (N, num_classes), computed on the device in batches."""
    target = runtime.resolve_device(device)
    model.to(target)
    if len(images) == 0:
        return np.zeros((0, int(getattr(model, "num_classes", 0))), dtype=np.float32)
    data = DeviceImages(images, None, preprocessing, target, channels_last=runtime.use_channels_last(None, target))
    logits = _logits(model, data, batch_size, target, "fp32")
    with torch.inference_mode():
        return torch.softmax(logits, dim=1).cpu().numpy().astype(np.float32, copy=False)
