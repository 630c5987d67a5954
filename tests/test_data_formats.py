"""IDX and CIFAR readers: exact formats, checked errors, a restricted unpickler, fuzzing."""

from __future__ import annotations

import contextlib
import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.data_fixtures import cifar_batch, idx_bytes, py2_pickle
from zoo.api.errors import ZooError
from zoo.data.formats import (
    cifar_arrays,
    maybe_gunzip,
    parse_cifar_batch,
    parse_idx,
    read_cifar_batch,
    read_idx,
    unpickle_plain,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- IDX ---------------------------------------------------------------------------


def test_idx_round_trip_gzipped_and_plain(tmp_path: Path) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "a").write_bytes(idx_bytes(images))
    for name in ("a.gz", "a"):
        read = read_idx(tmp_path / name)
        assert read.dtype == np.uint8 and read.shape == (2, 3, 4)
        assert np.array_equal(read, images)


def test_idx_big_endian_types_become_native() -> None:
    values = np.array([1, -2, 300], dtype=">i4")
    data = bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 3) + values.tobytes()
    read = parse_idx(data)
    assert read.dtype == np.dtype("=i4") and read.tolist() == [1, -2, 300]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"x", "bad magic"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"x", "unknown data type"),
        (b"\x00\x00\x08\x00", "zero dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 1), "truncated"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"abc", "need 5 bytes of data, found 3"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + b"abcd", r"2 unexpected bytes after the data declared"),
    ],
)
def test_idx_malformed_names_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(ZooError, match=message) as error:
        parse_idx(data, "some/file-idx3-ubyte")
    assert "some/file-idx3-ubyte" in str(error.value)


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    full = gzip.compress(idx_bytes(np.zeros((10, 8, 8), np.uint8)))
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(ZooError, match=r"train-images-idx3-ubyte\.gz is not a valid gzip file"):
        read_idx(path)


@FUZZ
@given(st.binary(max_size=300))
def test_idx_arbitrary_bytes_parse_or_zoo_error(data: bytes) -> None:
    with contextlib.suppress(ZooError):
        parse_idx(data)


@FUZZ
@given(
    st.integers(0, 255), st.integers(0, 4), st.lists(st.integers(0, 70000), max_size=4), st.binary(max_size=200)
)
def test_idx_plausible_headers_parse_or_zoo_error(code: int, ndim: int, dims: list[int], body: bytes) -> None:
    data = bytes([0, 0, code, ndim]) + b"".join(struct.pack(">I", d) for d in dims) + body
    for candidate in (data, gzip.compress(data), gzip.compress(data)[:-5]):
        with contextlib.suppress(ZooError):
            parse_idx(maybe_gunzip(candidate, "<fuzz>"), "<fuzz>")


# -- CIFAR batches -----------------------------------------------------------------


def test_cifar_batch_python2_pickle_numpy1_names(tmp_path: Path) -> None:
    batch, nhwc = cifar_batch(5, 10, seed=1)
    data = py2_pickle(batch)
    assert b"cnumpy.core.multiarray\n_reconstruct" in data  # as in the real files
    (tmp_path / "data_batch_1").write_bytes(data)
    images, labels = read_cifar_batch(tmp_path / "data_batch_1")
    assert images.shape == (5, 32, 32, 3) and images.dtype == np.uint8 and images.flags.c_contiguous
    assert np.array_equal(images, nhwc)
    assert labels.dtype == np.int64 and labels.tolist() == batch[b"labels"]


def test_cifar_batch_numpy2_names_and_protocol4_accepted() -> None:
    batch, nhwc = cifar_batch(3, 100, seed=2, label_key="fine_labels")
    for data in (py2_pickle(batch, numpy1=False), pickle.dumps(batch, protocol=4)):
        images, labels = cifar_arrays(parse_cifar_batch(data), "fine_labels", "x")
        assert np.array_equal(images, nhwc) and labels.tolist() == batch[b"fine_labels"]


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    for payload in (py2_pickle({b"data": _Evil(marker), b"labels": []}), pickle.dumps(_Evil(marker), protocol=0)):
        path.write_bytes(payload)
        with pytest.raises(ZooError, match=r"refusing to load global (posix|os)\.system"):
            read_cifar_batch(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        b"cbuiltins\neval\n(S'1+1'\ntR.",
        b"cnumpy\nload\n(S'x'\ntR.",
        b"cnumpy.core.multiarray\nscalar\n(tR.",
        b"c_codecs\nencode\n(S'x'\nS'latin1'\ntR.",
        # numpy.ndarray itself may only appear as _reconstruct's first argument, never be called.
        b"cnumpy\nndarray\n((I1000000000000\ntp0\ntR.",
        # _reconstruct with arguments numpy never writes.
        b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\ndtype\n(I0\ntS'b'\ntR.",
    ],
)
def test_only_numpy_array_reconstruction_is_admitted(payload: bytes) -> None:
    with pytest.raises(ZooError):
        unpickle_plain(payload, "evil")


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ([1, 2, 3], "holds a list"),
        ({b"labels": [1]}, "'data' must be a uint8 array"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "'data' must be a uint8"),
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, "rows of 100 values"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, "no 'labels' list"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "2 images but 1 labels"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": ["a"]}, "must hold integers"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [2**70]}, "out-of-range"),
    ],
)
def test_cifar_batch_shape_errors(batch: object, message: str) -> None:
    with pytest.raises(ZooError, match=message):
        cifar_arrays(parse_cifar_batch(py2_pickle(batch)), "labels", "b")


@FUZZ
@given(st.binary(max_size=400))
def test_cifar_arbitrary_bytes_parse_or_zoo_error(data: bytes) -> None:
    with contextlib.suppress(ZooError):
        cifar_arrays(parse_cifar_batch(data), "labels", "<fuzz>")


_VALID = py2_pickle(cifar_batch(2, 10, seed=3)[0])


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), min_size=1, max_size=6),
       st.integers(0, len(_VALID)))
def test_cifar_mutated_batches_parse_or_zoo_error(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_VALID)
    for position, value in flips:
        data[position] = value
    with contextlib.suppress(ZooError):
        cifar_arrays(parse_cifar_batch(bytes(data[:cut] if cut % 3 == 0 else data)), "labels", "<fuzz>")
