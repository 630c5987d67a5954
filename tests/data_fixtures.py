"""Helpers for the dataset-layer tests: tiny files in the exact official formats, a local HTTP server.

Nothing here touches the network or /work/shared: files are written under
pytest's tmp_path and served from 127.0.0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import pickle
import socket
import struct
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from zoo.api.specs import DataFile, DatasetSpec

IDX_LOADER = "zoo.data.loaders:load_idx_dataset"
IDX_NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
ENV_VARS = ("ZOO_CACHE_DIR", "ZOO_DATA_DIR", "ZOO_DATASET_MIRROR", "ZOO_OFFLINE", "ZOO_DOWNLOAD_TIMEOUT")
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


# -- isolation --------------------------------------------------------------------


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Private cache and data dirs, no zoo settings or proxies inherited, and no internet.

    Connections to anything but 127.0.0.1 fail, so a test that would reach
    the network fails loudly instead. Returns the cache directory.
    """
    for name in (*ENV_VARS, "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    cache = tmp_path / "zoo-cache"
    monkeypatch.setenv("ZOO_CACHE_DIR", str(cache))
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "no-data-dir"))
    monkeypatch.setenv("ZOO_DOWNLOAD_TIMEOUT", "5")

    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOCAL_HOSTS:  # type: ignore[index]
            raise OSError(f"test tried to reach the network: {address}")
        return real_connect(sock, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host not in _LOCAL_HOSTS and host is not None:
            raise OSError(f"test tried to resolve {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return cache


# -- IDX ---------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    """An uncompressed IDX file holding a uint8 array."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.tobytes()


def write_idx_dataset(directory: Path, *, train: int = 30, test: int = 20, size: int = 8, seed: int = 0) -> dict:
    """The four gzipped IDX files of an MNIST-like dataset; returns the arrays written."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, count in (("train", train), ("test", test)):
        images = rng.integers(0, 256, (count, size, size), dtype=np.uint8)
        labels = (np.arange(count) % 10).astype(np.uint8)
        images_name, labels_name = IDX_NAMES[split]
        (directory / images_name).write_bytes(gzip.compress(idx_bytes(images), mtime=0))
        (directory / labels_name).write_bytes(gzip.compress(idx_bytes(labels), mtime=0))
        arrays[split] = (images[..., np.newaxis], labels.astype(np.int64))
    return arrays


# -- CIFAR -------------------------------------------------------------------------


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes protocol 2 the way Python 2's cPickle did: byte and text strings as STRING opcodes."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def save_string(self, obj: bytes | str) -> None:
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_string
    dispatch[str] = save_string


def py2_pickle(obj: object, *, numpy1: bool = True) -> bytes:
    """``obj`` pickled as the CIFAR files were (Python 2, protocol 2, numpy 1 module names)."""
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(obj)
    data = buffer.getvalue()
    if numpy1:
        data = data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    return data


def cifar_batch(count: int, classes: int, seed: int, *, label_key: str = "labels") -> tuple[dict, np.ndarray]:
    """A CIFAR batch dict (bytes keys, N x 3072 uint8 rows) and its images in NHWC."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, classes, count)]
    batch = {
        b"batch_label": b"testing batch",
        label_key.encode(): labels,
        b"data": rows,
        b"filenames": [f"img_{i}.png".encode() for i in range(count)],
    }
    if label_key == "fine_labels":
        batch[b"coarse_labels"] = [v // 5 for v in labels]
    return batch, rows.reshape(count, 3, 32, 32).transpose(0, 2, 3, 1)


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None) -> None:
    info = tarfile.TarInfo(name)
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    else:
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))


def write_cifar10(directory: Path, *, per_batch: int = 6, test: int = 8, seed: int = 0,
                  replace: dict[str, bytes] | None = None) -> dict:
    """``cifar-10-python.tar.gz`` in the official layout; ``replace`` swaps a member's bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    members: dict[str, bytes] = {}
    train_images, train_labels = [], []
    for i in range(1, 6):
        batch, nhwc = cifar_batch(per_batch, 10, seed + i)
        members[f"data_batch_{i}"] = py2_pickle(batch)
        train_images.append(nhwc)
        train_labels += batch[b"labels"]
    batch, test_nhwc = cifar_batch(test, 10, seed + 99)
    members["test_batch"] = py2_pickle(batch)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    members["batches.meta"] = py2_pickle({b"label_names": names, b"num_cases_per_batch": 10000, b"num_vis": 3072})
    members["readme.html"] = b"<html></html>"
    members.update(replace or {})
    with tarfile.open(directory / "cifar-10-python.tar.gz", "w:gz") as tar:
        _add(tar, "cifar-10-batches-py")
        for name, data in members.items():
            _add(tar, f"cifar-10-batches-py/{name}", data)
    return {
        "train": (np.concatenate(train_images), np.array(train_labels, dtype=np.int64)),
        "test": (test_nhwc, np.array(batch[b"labels"], dtype=np.int64)),
    }


def write_cifar100(directory: Path, *, train: int = 12, test: int = 8, seed: int = 0) -> dict:
    """``cifar-100-python.tar.gz`` in the official layout (``train``, ``test``, ``meta``)."""
    directory.mkdir(parents=True, exist_ok=True)
    train_batch, train_nhwc = cifar_batch(train, 100, seed, label_key="fine_labels")
    test_batch, test_nhwc = cifar_batch(test, 100, seed + 1, label_key="fine_labels")
    meta = {
        b"fine_label_names": [f"class_{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"super_{i}".encode() for i in range(20)],
    }
    with tarfile.open(directory / "cifar-100-python.tar.gz", "w:gz") as tar:
        _add(tar, "cifar-100-python")
        _add(tar, "cifar-100-python/train", py2_pickle(train_batch))
        _add(tar, "cifar-100-python/test", py2_pickle(test_batch))
        _add(tar, "cifar-100-python/meta", py2_pickle(meta))
    return {
        "train": (train_nhwc, np.array(train_batch[b"fine_labels"], dtype=np.int64)),
        "test": (test_nhwc, np.array(test_batch[b"fine_labels"], dtype=np.int64)),
    }


# -- specs -------------------------------------------------------------------------


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def spec_for(
    name: str,
    source: Path,
    file_names: tuple[str, ...],
    *,
    loader: str = IDX_LOADER,
    classes: int = 10,
    shape: tuple[int, int, int] = (8, 8, 1),
    official: str = "",
    mirrors: tuple[str, ...] = (),
    checksums: str = "md5",
    system_dirs: tuple[str, ...] = (),
) -> DatasetSpec:
    """A spec for files written in ``source``, with their real checksums.

    ``checksums``: ``md5``, ``sha256``, ``content`` (content sha256 only) or ``none``.
    ``official`` is a base URL for the files' official URLs.
    """
    files = []
    for file_name in file_names:
        path = source / file_name
        data = path.read_bytes()
        sums = {
            "md5": {"md5": md5_of(path)},
            "sha256": {"sha256": sha256_of(data)},
            "content": {"content_sha256": sha256_of(gzip.decompress(data))},
            "none": {},
        }[checksums]
        url = f"{official.rstrip('/')}/{file_name}" if official else ""
        files.append(DataFile(file_name, url, **sums))
    channels = shape[2]
    return DatasetSpec(
        name=name,
        files=tuple(files),
        loader=loader,
        classes=tuple(f"c{i}" for i in range(classes)),
        shape=shape,
        mean=(0.5,) * channels,
        std=(0.25,) * channels,
        mirrors=mirrors,
        system_dirs=system_dirs,
    )


IDX_FILES = tuple(n for pair in IDX_NAMES.values() for n in pair)


# -- HTTP server -------------------------------------------------------------------


@dataclass
class Route:
    """What the server does for one path: ``ok``, ``drop`` (half, then close), ``hang``, ``404``."""

    body: bytes = b""
    mode: str = "ok"
    location: str = ""


@dataclass
class FileServer:
    """A real ``http.server`` on 127.0.0.1 in a thread, serving ``routes``."""

    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    base: str = ""

    def add(self, path: str, body: bytes = b"", mode: str = "ok", location: str = "") -> str:
        """Serve ``body`` at ``/path``; returns its URL."""
        self.routes["/" + path.lstrip("/")] = Route(body, mode, location)
        return self.url(path)

    def add_dir(self, prefix: str, directory: Path) -> str:
        """Serve every file of ``directory`` under ``/prefix/``; returns the base URL."""
        for path in directory.iterdir():
            if path.is_file():
                self.add(f"{prefix}/{path.name}", path.read_bytes())
        return self.url(prefix)

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"


def _handler(server: FileServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server.hits.append(self.path)
            route = server.routes.get(self.path)
            if route is None or route.mode == "404":
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if route.mode == "redirect":
                self.send_response(302)
                self.send_header("Location", route.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            if route.mode == "ok":
                self.wfile.write(route.body)
                return
            self.wfile.write(route.body[: len(route.body) // 2])
            self.wfile.flush()
            if route.mode == "hang":
                server.release.wait(20)
            self.close_connection = True

    return Handler


def serve() -> Iterator[FileServer]:
    """Run a :class:`FileServer` for the duration of a fixture."""
    state = FileServer()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()


def dead_url(path: str = "") -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/{path.lstrip('/')}"
