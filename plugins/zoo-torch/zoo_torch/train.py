"""zoo-torch's training loop over device-resident data, and its evaluation/prediction passes.

The loop honours zoo's :class:`~zoo.resume.RunControl`: resumable states (``zoo_torch.state``)
at the epoch ends it asks for, a stop between steps, an exact resume part-way through an
epoch, and a NaN/inf loss refused without a device synchronisation per step.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.api import (
    Augmentation,
    EpochMetrics,
    FitResult,
    ModelSpec,
    NonFiniteLoss,
    Preprocessing,
    TrainConfig,
    TrainingData,
    TrainingInterrupted,
    TrainingProgress,
    ZooError,
    call_builder,
    load_pretrained,
)
from zoo_torch import distributed, runtime
from zoo_torch.data import DeviceImages
from zoo_torch.execution import Execution, choose_execution
from zoo_torch.state import FORMAT, SUFFIX, PartialEpoch, finite, read_state, restore, write_state

if TYPE_CHECKING:
    from zoo.api import ResumePoint, RunControl

NAN_CHECK_EVERY = 20  # steps between the NaN watch's reads of the device (its only synchronisations)


def build(spec: ModelSpec, *, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> nn.Module:
    """Call the spec's builder (which refuses too small an input)."""
    return call_builder(spec.builder, num_classes=num_classes, in_chans=in_chans, img_size=img_size)


def fit(
    spec: ModelSpec,
    data: TrainingData,
    config: TrainConfig,
    progress: TrainingProgress,
    control: RunControl | None = None,
) -> FitResult:
    """Train a model on ``data.train`` (see :class:`zoo.backend.Backend.fit`).

    With ``control``: a state is saved at the end of the epochs it asks for; a stop
    request is honoured after the current step (state saved, ``TrainingInterrupted``);
    ``control.resume`` continues a saved state exactly where it was, part-way through
    an epoch included. A NaN/inf loss raises ``NonFiniteLoss`` and saves nothing.
    """
    started = time.perf_counter()
    here = distributed.world()
    device = distributed.device_for(runtime.resolve_device(config.device), here)
    if here.parallel:
        distributed.join(device)
    channels_last = runtime.use_channels_last(config.channels_last, device)
    with runtime.deterministic(config.deterministic):
        torch.manual_seed(config.seed)
        generator = torch.Generator(device=device).manual_seed(config.seed)
        prep = data.preprocessing
        model = build(spec, num_classes=data.num_classes, in_chans=prep.in_chans, img_size=prep.img_size)
        if config.pretrained and (control is None or control.resume is None):  # a resumed state has its weights
            load_pretrained(spec, model, config.weights)
        model = model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
        if len(data.train) == 0:
            raise ZooError(f"no training images for {spec.name}; check --limit and --val-split")
        train = DeviceImages(data.train.images, data.train.labels, prep, device, channels_last=channels_last,
                             prepare=True, pad=data.augmentation.crop_padding)
        val = None
        if data.val is not None and len(data.val):
            val = DeviceImages(data.val.images, data.val.labels, prep, device, channels_last=channels_last)
        optimizer = runtime.create_optimizer(model, config.optimizer, config.lr, config.weight_decay)
        scheduler = runtime.create_scheduler(optimizer, config.scheduler, config.epochs)
        steps = math.ceil(len(train) / config.batch_size)
        extra: dict[str, Any] = {
            "channels_last": channels_last,
            "precision": config.precision,
            "optimizer": type(optimizer).__name__,
        }
        if here.parallel:
            extra["distributed"] = {"world_size": here.size, "backend": "nccl" if device.type == "cuda" else "gloo",
                                    "global_batch": config.batch_size, "lr_scaling": "none (the batch is global)"}
        loop = _Loop(model, optimizer, scheduler, generator, device, train, config, data.augmentation, progress,
                     control, steps, here)
        first_epoch, resumed = 1, None
        if control is not None and control.resume is not None:
            first_epoch, resumed = loop.resume(control.resume, extra)
        to_train = (config.epochs - first_epoch + 1) * steps - (resumed.step if resumed is not None else 0)
        # DDP hooks into autograd per module: eager steps (torch.compile and CUDA graphs are single-process here).
        execution = choose_execution(False if here.parallel else config.compile, config.compile_mode,
                                     device.type, 0 if here.parallel else to_train)
        extra.update(compiled=execution.compiled, compile_mode=execution.compile_mode, execution=execution.name,
                     execution_reason="data-parallel (DDP): eager steps" if here.parallel else execution.reason)
        loop.execution = execution
        loop.step_model = torch.compile(model, mode=execution.compile_mode) if execution.compiled else model
        if here.parallel:
            loop.step_model = distributed.wrap(model, device)
        # CUDA graphs replay one shape: validation (and each epoch's short last batch) runs eagerly.
        eval_model = model if execution.graphs else loop.step_model
        for epoch in range(first_epoch, config.epochs + 1):
            partial = resumed if epoch == first_epoch else None
            progress.start_epoch(epoch, config.epochs, steps)
            if partial is not None:
                progress.advance(partial.step)
            epoch_start = time.perf_counter()
            lr = float(optimizer.param_groups[0]["lr"])
            loss, accuracy = loop.train_epoch(epoch, partial)
            train_seconds = time.perf_counter() - epoch_start  # loss.item() above synchronised
            val_loss = val_accuracy = None
            if val is not None and here.primary:  # the other ranks go on and wait at the next step's gradients
                val_loss, val_accuracy = evaluate(eval_model, val, config.batch_size, device, config.precision,
                                                  label_smoothing=config.label_smoothing)
            if scheduler is not None:
                scheduler.step(epoch)
            trained = len(train) - (partial.seen if partial is not None else 0)
            warmup = loop.warmup
            warmup_seconds = warmup.done_at - epoch_start if warmup.steps else 0.0
            steady_seconds, steady_images = train_seconds - warmup_seconds, trained - warmup.images
            metrics = EpochMetrics(
                epoch=epoch,
                train_loss=loss,
                train_accuracy=accuracy,
                val_loss=val_loss,
                val_accuracy=val_accuracy,
                images_per_sec=trained / train_seconds,
                seconds=time.perf_counter() - epoch_start,
                lr=lr,
                warmup_steps=warmup.steps,
                warmup_seconds=warmup_seconds,
                steady_images_per_sec=steady_images / steady_seconds if steady_images and steady_seconds > 0 else None,
            )
            loop.history.append(metrics)
            progress.end_epoch(metrics)
            loop.end_epoch(epoch)
        model.eval()
        if here.parallel:
            distributed.leave()
        return FitResult(
            model=model,
            history=loop.history,
            device=runtime.device_label(device),
            seconds=time.perf_counter() - started,
            extra=extra,
        )


@dataclass(frozen=True)
class WarmUp:
    """The warm-up steps an epoch began with: how many, their images, and when they were done
    (``time.perf_counter()``, after one device synchronisation)."""

    steps: int = 0
    images: int = 0
    done_at: float = 0.0


class _Loop:
    """The training loop's state and steps: epochs, saves, stops, resumes and the NaN watch."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        generator: torch.Generator,
        device: torch.device,
        train: DeviceImages,
        config: TrainConfig,
        augmentation: Augmentation,
        progress: TrainingProgress,
        control: RunControl | None,
        steps: int,
        here: distributed.World | None = None,
    ) -> None:
        self.model, self.step_model = model, model
        self.world = here or distributed.World()
        self.optimizer, self.scheduler, self.generator, self.device = optimizer, scheduler, generator, device
        self.train, self.config, self.augmentation, self.progress = train, config, augmentation, progress
        self.control, self.steps = control, steps
        self.history: list[EpochMetrics] = []
        self._resume_generator: Tensor | None = None  # the generator's state after a resumed epoch's permutation
        self.execution = Execution("eager", None, "")
        self.warmup = WarmUp()  # the last epoch's; only the first epoch this process trains has warm-up steps
        self._warmup_pending = True

    def resume(self, point: ResumePoint, extra: dict[str, Any]) -> tuple[int, PartialEpoch | None]:
        """Load ``point`` into the model, optimizer, scheduler and RNGs: (first epoch to train, its partial sums)."""
        saved_steps = point.extra.get("steps_per_epoch", self.steps)
        if saved_steps != self.steps or point.step >= self.steps:
            raise ZooError(f"cannot resume from {point.path}: it was saved with {saved_steps} steps per epoch, "
                           f"this run has {self.steps}; start a new run")
        saved = read_state(point.path, self.device)
        same_device = restore(saved, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                              device=self.device)
        partial = saved.partial if point.step else None
        if point.step and (partial is None or partial.step != point.step):
            raise ZooError(f"cannot resume from {point.path}: its manifest says step {point.step} but the file "
                           "holds no such partial epoch; start a new run")
        if same_device:
            self.generator.set_state(saved.generator_epoch_start if partial is not None else saved.generator_now)
            self._resume_generator = saved.generator_now if partial is not None else None
        else:  # a CUDA generator's state does not fit a CPU generator, nor the other way round
            self.generator.manual_seed(self.config.seed + point.epoch)
            extra["note"] = (f"resumed on {self.device.type} from a state saved on {saved.generator_device}: "
                             "the data order from there on differs from an uninterrupted run's")
        self.history = list(point.history)
        extra["resumed_from"] = {"epoch": point.epoch, "step": point.step}
        return point.epoch + 1, partial

    def train_epoch(self, epoch: int, partial: PartialEpoch | None) -> tuple[float, float]:
        """One pass over ``train`` in shuffled batches (the rest of it after ``partial``).

        Loss and accuracy are summed on the device and read once at the end; each
        step's loss goes into a device buffer that is checked for NaN/inf every
        :data:`NAN_CHECK_EVERY` steps. A stop request is a host-side flag, checked
        after every step without touching the device. In the first epoch this
        process trains, the device is synchronised once after the execution's
        warm-up steps, to time them (``self.warmup``). Under CUDA graphs a short
        last batch runs through the eager module (same parameters, exact maths),
        so the graphs only ever see full batches.
        """
        model, config, train, device = self.step_model, self.config, self.train, self.device
        model.train()
        graphs = self.execution.graphs
        epoch_start = self.generator.get_state()
        order = torch.randperm(len(train), device=device, generator=self.generator)
        if self._resume_generator is not None:
            self.generator.set_state(self._resume_generator)
            self._resume_generator = None
        batches = order.split(config.batch_size)
        if partial is not None:
            loss_sum, correct = partial.loss_sum.clone(), partial.correct.clone()
            seen, first = partial.seen, partial.step
            if not self.world.primary:  # the saved sums are the world's: counted once, on rank 0
                loss_sum.zero_()
                correct.zero_()
        else:
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.int64)
            seen, first = 0, 0
        losses = torch.zeros(self.steps, device=device)
        checked = first
        stop = self.stop_requested
        warmup_end = first + min(self.execution.warmup_steps, self.steps - first) if self._warmup_pending else first
        self._warmup_pending = False
        self.warmup = WarmUp()
        for step in range(first + 1, self.steps + 1):
            batch = batches[step - 1]
            x = train.inputs(batch, self.augmentation, self.generator)
            y = train.labels[batch]
            weight = 1.0
            if self.world.parallel:  # every rank made the whole batch (same draws); it trains on its slice
                part, weight = distributed.shard(batch, self.world)
                x, y = x[part], y[part]
            runner = model
            if graphs:
                if batch.numel() == config.batch_size:
                    torch.compiler.cudagraph_mark_step_begin()
                else:
                    runner = self.model
            with runtime.autocast(device, config.precision):
                logits = runner(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            (loss * (weight * len(y)) if self.world.parallel else loss).backward()
            self.optimizer.step()
            loss = loss.detach()
            losses[step - 1] = loss
            loss_sum += loss * (len(y) if weight else 0)
            correct += (logits.detach().argmax(1) == y).sum() if weight else 0
            seen += batch.numel()
            if step == warmup_end:
                runtime.synchronize(device)  # the warm-up's only synchronisation
                self.warmup = WarmUp(step - first, seen - (partial.seen if partial is not None else 0),
                                     time.perf_counter())
            self.progress.advance()
            if step % NAN_CHECK_EVERY == 0:
                _check_losses(losses, checked, step, epoch)
                checked = step
            if step < self.steps and stop():
                _check_losses(losses, checked, step, epoch)
                if self.world.parallel:
                    loss_sum, correct = distributed.total(loss_sum), distributed.total(correct)
                saved = self.save(epoch - 1, step, PartialEpoch(step, loss_sum, correct, seen), epoch_start,
                                  where=(epoch, step))
                self.leave_if_parallel()
                raise TrainingInterrupted(f"training stopped at epoch {epoch}, step {step} of {self.steps}; {saved}",
                                          epoch=epoch - 1, step=step)
        _check_losses(losses, checked, self.steps, epoch)
        if self.world.parallel:
            loss_sum, correct = distributed.total(loss_sum), distributed.total(correct)
        return loss_sum.item() / len(train), correct.item() / len(train)

    def stop_requested(self) -> bool:
        """Whether to stop after this step: asked here, or (data-parallel) on any rank, so that all stop at once."""
        asked = self.control is not None and self.control.stop_requested()
        return distributed.agree(asked, self.device) if self.world.parallel else asked

    def end_epoch(self, epoch: int) -> None:
        """Save after ``epoch`` when the control asks (or a stop is pending); stop if one is."""
        if self.control is None:
            return
        stop = self.stop_requested()
        saved = "no state was saved"
        if self.control.should_save(epoch, self.config.epochs) or stop:
            saved = self.save(epoch, 0, None, self.generator.get_state(), where=(epoch, self.steps))
        if stop and epoch < self.config.epochs:
            self.leave_if_parallel()
            raise TrainingInterrupted(f"training stopped after epoch {epoch} of {self.config.epochs}; {saved}",
                                      epoch=epoch, step=0)

    def leave_if_parallel(self) -> None:
        """Every rank stops at the same step (they agree on it), so they leave the process group together:
        a rank that exits with the group's threads still running can abort (SIGABRT) and fail the launch."""
        if self.world.parallel:
            distributed.leave()

    def save(self, epoch: int, step: int, partial: PartialEpoch | None, generator_epoch_start: Tensor, *,
             where: tuple[int, int]) -> str:
        """Save a state (``epoch`` epochs plus ``step`` batches done); the words a stop message ends with.

        Refuses (``NonFiniteLoss``) to save non-finite weights: the last good state stays the last one.
        """
        if self.control is None or not self.control.saves_states:
            return "no state was saved (no state directory)"
        if not finite(self.model):
            raise NonFiniteLoss(where[0], where[1], float("nan"))

        def writer(target: Path) -> None:
            write_state(target, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                        generator=self.generator, generator_epoch_start=generator_epoch_start,
                        device=self.device, partial=partial)

        extra = {"format": FORMAT, "steps_per_epoch": self.steps, "device": self.device.type}
        path = self.control.save_state(epoch=epoch, step=step, history=list(self.history), writer=writer,
                                       suffix=SUFFIX, extra=extra)
        return "no state was saved (no state directory)" if path is None else f"its state is in {path.parent}"


def _check_losses(losses: Tensor, start: int, end: int, epoch: int) -> None:
    """Raise ``NonFiniteLoss`` for the first NaN/inf among steps ``start + 1 .. end`` (one sync)."""
    window = losses[start:end]
    if end <= start or bool(torch.isfinite(window).all()):
        return
    first = int((~torch.isfinite(window)).nonzero()[0, 0])
    raise NonFiniteLoss(epoch, start + first + 1, float(window[first]))


def _logits(model: nn.Module, images: DeviceImages, batch_size: int, device: torch.device, precision: str) -> Tensor:
    """Float32 logits of every example, in order, in eval mode under inference_mode."""
    model.eval()
    outputs = []
    with torch.inference_mode(), runtime.autocast(device, precision):
        for start in range(0, len(images), batch_size):
            outputs.append(model(images.inputs(slice(start, start + batch_size))).float())
    return torch.cat(outputs)


def evaluate(
    model: nn.Module, images: DeviceImages, batch_size: int, device: torch.device, precision: str = "fp32",
    *, label_smoothing: float = 0.0,
) -> tuple[float, float]:
    """Mean cross-entropy (against targets smoothed as in training, as Keras' validation loss is) and top-1
    accuracy on ``images``."""
    logits = _logits(model, images, batch_size, device, precision)
    with torch.inference_mode():
        loss = F.cross_entropy(logits, images.labels, label_smoothing=label_smoothing)
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
