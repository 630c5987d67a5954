"""One image file to uint8 pixels of a given size and mode, the same way for datasets and ``zoo predict``.

Pillow decodes; the image is converted to grey (``L``) or RGB first, then
resized with bilinear filtering (the filter Keras's
``image_dataset_from_directory`` uses by default) when its size differs.
16-bit grey images are scaled to 8 bits (value / 256) rather than clipped as
Pillow's ``convert("L")`` would. Animated images give their first frame.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from PIL import Image, UnidentifiedImageError

GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
PIL_MODE = {"grey": "L", "rgb": "RGB"}


@dataclass(frozen=True)
class Target:
    """What every image becomes: ``height`` x ``width`` in ``mode`` (``grey`` or ``rgb``)."""

    height: int
    width: int
    mode: str

    @property
    def channels(self) -> int:
        """1 for grey, 3 for RGB."""
        return 1 if self.mode == "grey" else 3

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)``."""
        return self.height, self.width, self.channels

    def describe(self) -> str:
        """``28x28 grey``."""
        return f"{self.height}x{self.width} {self.mode}"


class Native(NamedTuple):
    """An image's own size and mode, as read from its header."""

    height: int
    width: int
    mode: str

    @property
    def kind(self) -> str:
        """``grey`` or ``rgb``: what the image is closer to."""
        return "grey" if self.mode in GREY_MODES else "rgb"


class UnreadableImage(Exception):
    """A file that is not an image Pillow can decode; ``reason`` is one clause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _convert(image: Any, mode: str) -> Any:
    if mode == "grey" and (image.mode.startswith("I;16") or image.mode == "I"):
        wide = np.asarray(image, dtype=np.int64)
        return Image.fromarray(np.clip(wide // 256, 0, 255).astype(np.uint8), mode="L")
    return image.convert(PIL_MODE[mode])


def to_array(image: Any, target: Target) -> np.ndarray:
    """An open Pillow image as uint8 ``target.shape`` (converted, then resized if needed)."""
    converted = image if image.mode == PIL_MODE[target.mode] else _convert(image, target.mode)
    if converted.size != (target.width, target.height):
        converted = converted.resize((target.width, target.height), Image.Resampling.BILINEAR)
    # tobytes + frombuffer: np.asarray goes through the same bytes with more overhead per image
    return np.frombuffer(converted.tobytes(), dtype=np.uint8).reshape(target.shape)


def _reason(path: str, exc: BaseException) -> str:
    if isinstance(exc, Image.DecompressionBombError):
        return f"is too large to decode safely ({exc})"
    if isinstance(exc, UnidentifiedImageError):
        try:
            empty = os.path.getsize(path) == 0
        except OSError:
            empty = False
        return "is empty (0 bytes)" if empty else "is not an image Pillow can read"
    text = " ".join(str(exc).split())
    if "truncated" in text:
        return "is truncated (the image data ends early)"
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot be read ({exc.strerror})"
    return f"cannot be decoded ({type(exc).__name__}: {text})"


_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".gif": "GIF", ".tif": "TIFF",
            ".tiff": "TIFF", ".webp": "WEBP"}


def _open(path: str, data: bytes | None = None) -> Any:
    """Pillow's image for ``path`` (from ``data`` when read already), trying the format its suffix
    names first: identifying it among every format Pillow knows costs more than decoding a small PNG."""
    source = io.BytesIO(data) if data is not None else path
    hint = _FORMATS.get(os.path.splitext(path)[1].lower())
    if hint is not None:
        try:
            return Image.open(source, formats=(hint,))
        except UnidentifiedImageError:  # another format behind the suffix (a JPEG named .png)
            if data is not None:
                source = io.BytesIO(data)
    return Image.open(source)


def read_header(path: str) -> Native:
    """The image's size and mode without decoding its pixels."""
    try:
        with _open(path) as image:
            return Native(image.height, image.width, image.mode)
    except MemoryError:
        raise
    except Exception as exc:  # Pillow raises many types for broken files; each is one bad file
        raise UnreadableImage(_reason(path, exc)) from None


def read_image(path: str, target: Target) -> tuple[np.ndarray, Native]:
    """Decode ``path`` to ``target``; also returns its native size and mode.

    The file is read in one call and decoded from memory. Pillow's warnings
    (a large image, a palette with transparency) are the caller's to filter.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if not data:
            raise UnreadableImage("is empty (0 bytes)")
        with _open(path, data) as image:
            native = Native(image.height, image.width, image.mode)
            image.load()
            return to_array(image, target), native
    except (MemoryError, UnreadableImage):
        raise
    except Exception as exc:  # Pillow raises many types for broken files; each is one bad file
        raise UnreadableImage(_reason(path, exc)) from None
