"""Readers for the published file formats: IDX (the MNIST family) and CIFAR python batches.

Every reader checks what it reads and raises :class:`~zoo.errors.ZooError`
naming the file and what is wrong; no malformed input escapes as another
exception type. CIFAR batches are pickles, so they go through
:class:`RestrictedUnpickler`, which can build dicts, lists, strings, numbers
and numpy arrays, and nothing else.
"""

from __future__ import annotations

import gzip
import io
import pickle
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zoo.api.errors import ZooError

GZIP_MAGIC = b"\x1f\x8b"

# IDX type codes (http://yann.lecun.com/exdb/mnist/): data is big-endian.
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_bytes(path: Path) -> bytes:
    """The content of ``path``, gunzipped when it starts with the gzip magic."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ZooError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return maybe_gunzip(raw, str(path))


def maybe_gunzip(raw: bytes, source: str) -> bytes:
    """``raw`` decompressed if it is gzip data, else unchanged."""
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ZooError(f"{source} is not a valid gzip file ({exc}); delete it and fetch it again") from exc


# -- IDX -------------------------------------------------------------------------


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode one IDX file (already decompressed) into a native-endian array.

    Checks the magic number (two zero bytes, a known type code, at least one
    dimension) and that the data is exactly as long as the dimensions say.
    """
    if len(data) < 4:
        raise ZooError(f"{source} is not an IDX file: {len(data)} bytes, too short for the header")
    if data[0] != 0 or data[1] != 0:
        raise ZooError(f"{source} is not an IDX file: bad magic number 0x{data[:4].hex()}")
    dtype = IDX_TYPES.get(data[2])
    if dtype is None:
        raise ZooError(f"{source} is not an IDX file: unknown data type code 0x{data[2]:02x}")
    ndim = data[3]
    if ndim == 0:
        raise ZooError(f"{source} is not an IDX file: zero dimensions in the header")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ZooError(f"{source} is truncated: the header declares {ndim} dimensions but the file ends early")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims, dtype=object)) * dtype.itemsize
    actual = len(data) - header
    if actual < expected:
        raise ZooError(
            f"{source} is truncated: dimensions {'x'.join(map(str, dims))} need {expected:,} bytes "
            f"of data, found {actual:,}; delete it and fetch it again"
        )
    if actual > expected:
        raise ZooError(
            f"{source} has {actual - expected:,} unexpected bytes after the data declared by "
            f"its header ({'x'.join(map(str, dims))}); is it the right file?"
        )
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return array.reshape(dims).astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file, gzipped or not."""
    return parse_idx(read_bytes(path), str(path))


# -- CIFAR python batches ----------------------------------------------------------


class _NdarrayMarker:
    """Stands for ``numpy.ndarray`` inside a pickle: usable only as ``_reconstruct``'s first argument."""

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise pickle.UnpicklingError("calling numpy.ndarray directly is not allowed")


_NDARRAY = _NdarrayMarker()


def _reconstruct(subtype: object, shape: object, dtype: object) -> np.ndarray:
    """numpy's own array reconstruction, admitting only the arguments numpy itself writes."""
    if subtype is not _NDARRAY or shape != (0,) or dtype not in (b"b", "b"):
        raise pickle.UnpicklingError("unexpected arguments to numpy's array reconstruction")
    return np.ndarray.__new__(np.ndarray, (0,), np.dtype("b"))


# The complete list of globals a CIFAR batch may name: numpy's array
# reconstruction (numpy 1 and numpy 2 spellings) and dtypes. Mapped to fixed
# objects here, so nothing is ever imported by a name read from the file.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler for plain data: dicts, lists, tuples, str, bytes, numbers and numpy arrays.

    ``find_class`` refuses every global except numpy's array reconstruction,
    so a crafted pickle cannot call ``os.system`` or anything else.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed")


def unpickle_plain(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler`; any failure is a ZooError."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise ZooError(f"{source} is not a plain-data pickle: {exc}") from exc
    except Exception as exc:
        raise ZooError(f"{source} is not a valid pickle ({type(exc).__name__}: {exc})") from exc


def _text(value: object) -> object:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def parse_cifar_batch(data: bytes, source: str = "<bytes>") -> dict[str, Any]:
    """Unpickle one CIFAR python batch into a dict with ``str`` keys."""
    batch = unpickle_plain(data, source)
    if not isinstance(batch, Mapping):
        raise ZooError(f"{source} is not a CIFAR batch: it holds a {type(batch).__name__}, not a dict")
    return {str(_text(key)): value for key, value in batch.items()}


def cifar_arrays(batch: Mapping[str, Any], label_key: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Images as uint8 (N, 32, 32, 3) and labels as int64 (N,) from a parsed batch."""
    images = batch.get("data")
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2:
        raise ZooError(f"{source} is not a CIFAR batch: 'data' must be a uint8 array of N x 3072 pixels")
    if images.shape[1] != 3 * 32 * 32:
        raise ZooError(f"{source} is not a CIFAR batch: rows of {images.shape[1]} values, expected 3072")
    raw_labels = batch.get(label_key)
    if not isinstance(raw_labels, (list, tuple, np.ndarray)):
        raise ZooError(f"{source} is not a CIFAR batch: no {label_key!r} list")
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in raw_labels):
        raise ZooError(f"{source} is not a CIFAR batch: {label_key!r} must hold integers")
    try:
        labels = np.asarray(raw_labels, dtype=np.int64).reshape(-1)
    except (OverflowError, ValueError) as exc:
        raise ZooError(f"{source} is not a CIFAR batch: {label_key!r} holds out-of-range values") from exc
    if labels.shape[0] != images.shape[0]:
        raise ZooError(f"{source} is inconsistent: {images.shape[0]} images but {labels.shape[0]} labels")
    nhwc = images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(nhwc), labels


def read_cifar_batch(path: Path, label_key: str = "labels") -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR python batch file into NHWC images and int64 labels."""
    source = str(path)
    return cifar_arrays(parse_cifar_batch(read_bytes(path), source), label_key, source)


def cifar_label_names(path: Path, key: str) -> list[str]:
    """The class names stored in a CIFAR ``batches.meta`` or ``meta`` file."""
    meta = parse_cifar_batch(read_bytes(path), str(path))
    names = meta.get(key)
    if not isinstance(names, list) or not all(isinstance(n, (bytes, str)) for n in names):
        raise ZooError(f"{path} is not a CIFAR meta file: no {key!r} list of names")
    return [str(_text(name)) for name in names]
