"""The device-resident data adapter: uint8 images on the device, model inputs made per batch.

The whole split is copied to the training device once, as uint8 (a quarter of
float32's memory). Each batch is then indexed, converted to float,
normalised, resized (bilinear) when the model wants another size, and
augmented (zero padding after normalisation, random crop, random horizontal
flip, cutout, per sample), all on the device: no DataLoader workers, no per-batch
host-to-device copies. A training split whose normalised, resized float copy
fits :data:`PREPARED_BUDGET_BYTES` is converted once instead (the same values,
sample for sample), so each step only gathers and augments: for a small model
on a CPU the per-batch conversion was a tenth of the step.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from zoo.api import Augmentation, Preprocessing, ZooError

PREPARED_BUDGET_BYTES = 1 << 30  # MNIST at 32x32: 0.25 GB; classic AlexNet's 227 px: never
_PREPARE_CHUNK = 1024


class DeviceImages:
    """One split on ``device``: ``images`` uint8 (N, H, W, C) and ``labels`` int64 (N,)."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray | None,
        preprocessing: Preprocessing,
        device: torch.device,
        *,
        channels_last: bool = False,
        prepare: bool = False,
        pad: int = 0,
    ) -> None:
        if images.ndim != 4 or images.dtype != np.uint8:
            raise ZooError(f"images must be uint8 (N, H, W, C), got {images.dtype} {images.shape}")
        if images.shape[3] != preprocessing.in_chans:
            raise ZooError(
                f"images have {images.shape[3]} channel(s) but the preprocessing has {preprocessing.in_chans}; "
                "use the dataset the model was trained on"
            )
        array = np.require(images, requirements=["C_CONTIGUOUS", "WRITEABLE"])
        self.images = torch.from_numpy(array).to(device)
        self.labels = None if labels is None else torch.tensor(np.asarray(labels), dtype=torch.int64, device=device)
        mean = torch.tensor(preprocessing.mean, dtype=torch.float32, device=device)
        std = torch.tensor(preprocessing.std, dtype=torch.float32, device=device)
        self._scale = 1.0 / (255.0 * std)  # x = u8 * scale + shift == (u8 / 255 - mean) / std
        self._shift = -mean / std
        self.img_size = tuple(preprocessing.img_size)
        self._resize = tuple(images.shape[1:3]) != self.img_size
        self._format = torch.channels_last if channels_last else torch.contiguous_format
        self.device = device
        self._prepared: Tensor | None = None  # NHWC, zero-padded by self._pad
        self._pad = pad
        if prepare and self.prepared_bytes() <= PREPARED_BUDGET_BYTES:
            chunks = [self._convert(slice(start, start + _PREPARE_CHUNK)).permute(0, 2, 3, 1)
                      for start in range(0, len(self), _PREPARE_CHUNK)]
            self._prepared = F.pad(torch.cat(chunks), (0, 0, pad, pad, pad, pad)).contiguous()

    def prepared_bytes(self) -> int:
        """Bytes of the whole split as normalised, resized, padded float32."""
        h, w = self.img_size
        return len(self) * (h + 2 * self._pad) * (w + 2 * self._pad) * int(self.images.shape[3]) * 4

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def inputs(
        self, index: Tensor | slice, augmentation: Augmentation | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Model inputs (B, C, H, W) float32 for the examples at ``index``."""
        active = augmentation is not None and augmentation.active
        if self._prepared is None:
            x = self._convert(index)
        elif active and self._pad and augmentation == Augmentation(crop_padding=self._pad) and torch.is_tensor(index):
            # shift, straight from the padded split: one gather per batch
            x = windows(self._prepared, self._pad, index, generator)
            active = False
        else:
            h, w = self.img_size
            x = self._prepared[index, self._pad:self._pad + h, self._pad:self._pad + w].permute(0, 3, 1, 2)
        if active:
            x = augment(x, augmentation, generator)
        return x.contiguous(memory_format=self._format)


    def _convert(self, index: Tensor | slice) -> Tensor:
        """The examples at ``index`` normalised and resized: (B, C, H, W), channels_last memory."""
        x = torch.addcmul(self._shift, self.images[index].float(), self._scale)  # NHWC, normalised
        x = x.permute(0, 3, 1, 2)  # NCHW view of NHWC memory, i.e. channels_last
        if self._resize:
            x = F.interpolate(x, size=self.img_size, mode="bilinear", align_corners=False)
        return x


def augment(x: Tensor, augmentation: Augmentation, generator: torch.Generator | None = None) -> Tensor:
    """``augmentation`` applied per sample on the device: crop and flip, then cutout.
    ``x`` is (B, C, H, W); so is the result."""
    if augmentation.crop_padding or augmentation.horizontal_flip:
        x = crop_flip(x, augmentation, generator)
    if augmentation.cutout:
        x = cutout(x, augmentation.cutout, generator)
    return x


def crop_flip(x: Tensor, augmentation: Augmentation, generator: torch.Generator | None = None) -> Tensor:
    """Pad with zeros, take a random crop of the original size and flip with p=0.5, per sample,
    in one gather."""
    n, _, h, w = x.shape
    pad = augmentation.crop_padding
    if pad and not augmentation.horizontal_flip:
        return crop(x, pad, generator)
    rows = torch.arange(h, device=x.device).expand(n, h)
    cols = torch.arange(w, device=x.device).expand(n, w)
    if augmentation.horizontal_flip:
        flip = torch.rand(n, device=x.device, generator=generator) < 0.5
        cols = torch.where(flip[:, None], w - 1 - cols, cols)
    if pad:
        x = F.pad(x, (pad, pad, pad, pad))
        rows = rows + torch.randint(0, 2 * pad + 1, (n, 1), device=x.device, generator=generator)
        cols = cols + torch.randint(0, 2 * pad + 1, (n, 1), device=x.device, generator=generator)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return x[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # gather gives (B, H, W, C)


def crop(x: Tensor, pad: int, generator: torch.Generator | None = None) -> Tensor:
    """``crop_flip`` without the flip (``shift``), the same draws and values: a crop is a window of the
    zero-padded batch, so one strided view of all (2 pad + 1)^2 windows indexed by sample replaces the
    per-pixel gather (about 40% less time per batch on a CPU, where the gather was most of the data path)."""
    padded = F.pad(x.permute(0, 2, 3, 1), (0, 0, pad, pad, pad, pad))  # NHWC, contiguous
    return windows(padded, pad, torch.arange(len(x), device=x.device), generator)


def windows(padded: Tensor, pad: int, index: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """A random crop of each of ``padded``'s samples at ``index`` (NHWC, zero-padded by ``pad``), as
    (B, C, H, W): one strided view of every sample's (2 pad + 1)^2 windows, indexed once."""
    _, hp, wp, c = padded.shape
    n, h, w = len(index), hp - 2 * pad, wp - 2 * pad
    rows = torch.randint(0, 2 * pad + 1, (n,), device=padded.device, generator=generator)
    cols = torch.randint(0, 2 * pad + 1, (n,), device=padded.device, generator=generator)
    s0, s1, s2, s3 = padded.stride()
    every = padded.as_strided((len(padded), 2 * pad + 1, 2 * pad + 1, h, w, c), (s0, s1, s2, s1, s2, s3))
    return every[index, rows, cols].permute(0, 3, 1, 2)


def cutout(x: Tensor, size: int, generator: torch.Generator | None = None) -> Tensor:
    """Zero a ``size`` x ``size`` square per sample, its centre drawn anywhere in the image (clipped at the edges)."""
    n, _, h, w = x.shape
    top = torch.randint(0, h, (n, 1), device=x.device, generator=generator) - size // 2
    left = torch.randint(0, w, (n, 1), device=x.device, generator=generator) - size // 2
    rows = torch.arange(h, device=x.device) - top  # row i is inside when 0 <= i - top < size
    cols = torch.arange(w, device=x.device) - left
    inside = ((rows >= 0) & (rows < size))[:, :, None] & ((cols >= 0) & (cols < size))[:, None, :]
    return x.masked_fill(inside[:, None], 0.0)
