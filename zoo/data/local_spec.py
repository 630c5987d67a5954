"""The record of a local dataset: a folder of class folders, a CSV of ``path,label``, or an ``.npz``.

Plain data only (no numpy, no Pillow), so ``zoo list`` and ``zoo data list`` can
hold these records without reading a pixel. :mod:`zoo.data.local` turns one into
arrays; :mod:`zoo.data.local_registry` keeps the named ones in ``ZOO_HOME``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from zoo.api.errors import UsageError
from zoo.api.specs import DatasetSpec

MODES = ("grey", "rgb")
ORDERS = ("shuffle", "name")
CHECKS = ("files", "dirs")
LOCAL_LOADER = "zoo.data.local:load_local_arrays"
DEFAULT_TEST_SPLIT = 0.2
_SIZE = re.compile(r"^\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*$")


def parse_image_size(text: str) -> tuple[int, int]:
    """``"28x32"`` (height x width) or ``"28"`` (square) as ``(height, width)``."""
    match = _SIZE.match(text)
    if match is None:
        raise UsageError(f"`image_size` must be HxW (e.g. 64x48) or N, got {text!r}")
    height = int(match.group(1))
    width = int(match.group(2) or height)
    if not (1 <= height <= 4096 and 1 <= width <= 4096):
        raise UsageError(f"`image_size` {text} is out of range: each side must be 1 to 4096 pixels")
    return height, width


@dataclass(frozen=True)
class LocalOptions:
    """How a local source becomes arrays; everything but ``mean``/``std`` changes the arrays.

    Attributes:
        image_size: ``(height, width)`` every image is resized to; None: the most common size.
        mode: ``"grey"`` or ``"rgb"``; None: the majority mode of the images.
        test_split: fraction of each class held out as the test split when the
            source has no ``test/`` (seeded, stratified).
        seed: seed of the test split and of the ``shuffle`` order.
        order: ``"shuffle"`` (seeded, so ``--limit`` takes a mixed sample) or
            ``"name"`` (by file name across classes, then class).
        classes: class names in label order; empty: sorted folder names or labels.
        skip_bad: leave out unreadable files (and list them) instead of failing.
        mean: per-channel mean in [0, 1] instead of the training split's.
        std: per-channel standard deviation in [0, 1] instead of the training split's.
        check: how a later load tells that a folder changed: ``"files"`` (every
            file's size and mtime: a file rewritten in place is noticed) or
            ``"dirs"`` (every directory's mtime, entry count and names: much
            quicker on many small files; a file rewritten in place under the
            same name is not noticed until ``zoo data verify``). Folders only.
    """

    image_size: tuple[int, int] | None = None
    mode: str | None = None
    test_split: float = DEFAULT_TEST_SPLIT
    seed: int = 0
    order: str = "shuffle"
    classes: tuple[str, ...] = ()
    skip_bad: bool = False
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    check: str = "files"

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise UsageError(f"mode must be grey or rgb, got {self.mode!r}")
        if self.check not in CHECKS:
            raise UsageError(f"`check` must be {' or '.join(CHECKS)}, got {self.check!r}")
        if self.order not in ORDERS:
            raise UsageError(f"`order` must be {' or '.join(ORDERS)}, got {self.order!r}")
        if not 0 < self.test_split < 1:
            raise UsageError(f"`test_split` must be between 0 and 1 (exclusive), got {self.test_split}")
        if len(set(self.classes)) != len(self.classes) or any(not c.strip() for c in self.classes):
            raise UsageError("`classes` must name each class once, none empty")
        if (self.mean is None) != (self.std is None):
            raise UsageError("give `mean` and `std` together")
        if self.std is not None and any(s <= 0 for s in self.std):
            raise UsageError(f"`std` must be positive, got {', '.join(map(str, self.std))}")
        if self.mean is not None and self.std is not None and len(self.mean) != len(self.std):
            raise UsageError("`mean` and `std` need the same number of values (one per channel)")

    def data_key(self) -> dict[str, Any]:
        """The options that change the arrays (a cache key's part)."""
        data = asdict(self)
        for name in ("mean", "std", "check"):
            data.pop(name)
        return data

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the registry file and JSON output."""
        data = asdict(self)
        for name in ("image_size", "classes", "mean", "std"):
            data[name] = None if data[name] is None else list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LocalOptions:
        """The inverse of :meth:`to_dict`; unknown keys are an error."""
        values = dict(data)
        for name in ("image_size", "classes", "mean", "std"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        values.setdefault("classes", ())
        return cls(**values)


@dataclass(frozen=True)
class LocalDatasetSpec(DatasetSpec):
    """A :class:`~zoo.specs.DatasetSpec` whose data is the user's own files.

    ``classes``, ``shape``, ``mean`` and ``std`` describe the files as last
    decoded; a lookup through the registry scans the source and decodes it
    again when it changed (see :func:`zoo.data.local.resolve`).

    Attributes:
        source: absolute path of the folder, CSV or ``.npz``.
        options: how the source becomes arrays.
        content_key: identity of the files and options the arrays were decoded
            from (paths, sizes, mtimes); ``""`` until scanned in this process.
    """

    source: str = ""
    options: LocalOptions = field(default_factory=LocalOptions)
    content_key: str = ""

    def __post_init__(self) -> None:
        if self.name != self.source:  # a registered name; an unregistered path is its own name
            super().__post_init__()

    @property
    def registered(self) -> bool:
        """Whether it has a name in the registry (``zoo data add``), not just a path."""
        return self.name != self.source

    @property
    def identity(self) -> str:
        """What a stored run's result depends on: the name plus the files' identity."""
        return f"{self.name}@{self.content_key}" if self.content_key else self.name
