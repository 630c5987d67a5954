"""load_dataset end to end: search order, download from a local server, verify, parse, cache."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.data_fixtures import (
    IDX_FILES,
    FileServer,
    dead_url,
    isolate,
    py2_pickle,
    serve,
    spec_for,
    write_cifar10,
    write_cifar100,
    write_idx_dataset,
)
from zoo.api.errors import PluginError, ZooError
from zoo.api.specs import DatasetSpec
from zoo.data import load_dataset
from zoo.data.arrays import split_validation
from zoo.data.locate import ensure_local


@pytest.fixture(autouse=True)
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path) / "datasets"


@pytest.fixture
def server() -> Iterator[FileServer]:
    yield from serve()


def _assert_same(dataset, expected: dict) -> None:
    for split in ("train", "test"):
        images, labels = expected[split]
        got = getattr(dataset, split)
        assert got.images.dtype == np.uint8 and got.labels.dtype == np.int64
        assert np.array_equal(got.images, images) and np.array_equal(got.labels, labels)


def _served_idx(server: FileServer, tmp_path: Path) -> tuple[DatasetSpec, dict]:
    source = tmp_path / "upstream"
    expected = write_idx_dataset(source)
    return spec_for("tiny", source, IDX_FILES, official=server.add_dir("official/tiny", source)), expected


def test_download_verify_parse_and_cache(server: FileServer, tmp_path: Path, cache: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    spec, expected = _served_idx(server, tmp_path)
    first = load_dataset(spec, progress=False)
    _assert_same(first, expected)
    assert first.spec is spec
    assert sorted(p.name for p in (cache / "tiny").iterdir() if not p.name.startswith("arrays-")) == sorted(IDX_FILES)
    assert len(server.hits) == 4
    # The second load maps the cached arrays: no request, no source needed, works offline.
    for name in IDX_FILES:
        (cache / "tiny" / name).unlink()
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    second = load_dataset(spec, progress=False)
    assert isinstance(second.train.images, np.memmap) and not second.train.images.flags.writeable
    _assert_same(second, expected)
    assert len(server.hits) == 4


def test_private_mirror_comes_first(server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "upstream"
    expected = write_idx_dataset(source)
    server.add_dir("official", source)
    spec = spec_for("tiny", source, IDX_FILES, official=server.url("official"))
    server.add_dir("private/tiny", source)
    monkeypatch.setenv("ZOO_DATASET_MIRROR", server.url("private"))
    _assert_same(load_dataset(spec, progress=False), expected)
    assert all(hit.startswith("/private/tiny/") for hit in server.hits)


def test_dead_official_url_falls_back_to_mirror(server: FileServer, tmp_path: Path) -> None:
    source = tmp_path / "upstream"
    expected = write_idx_dataset(source)
    mirror = server.add_dir("mirror", source)
    spec = spec_for("tiny", source, IDX_FILES, official=dead_url("gone"), mirrors=(mirror,))
    _assert_same(load_dataset(spec, progress=False), expected)


def test_search_order_data_dir_cache_system(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "upstream"
    write_idx_dataset(source)
    system = tmp_path / "usr-share" / "tiny"
    spec = spec_for("tiny", source, IDX_FILES, system_dirs=(str(system),))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    for directory in (tmp_path / "data" / "tiny", tmp_path / "flat", cache / "tiny", system):
        write_idx_dataset(directory)
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "data"))
    assert ensure_local(spec).place.path == tmp_path / "data" / "tiny"
    # An explicit data_dir beats ZOO_DATA_DIR, and may hold the files directly.
    assert ensure_local(spec, tmp_path / "flat").place.path == tmp_path / "flat"
    monkeypatch.delenv("ZOO_DATA_DIR")
    found = ensure_local(spec)
    assert (found.place.kind, found.place.path) == ("cache", cache / "tiny")
    for name in IDX_FILES:
        (cache / "tiny" / name).unlink()
    found = ensure_local(spec)
    assert (found.place.kind, found.place.path) == ("system", system)


def test_recompressed_copy_is_verified_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "upstream"
    expected = write_idx_dataset(source)
    md5_only = spec_for("tiny", source, IDX_FILES)
    with_content = spec_for("tiny", source, IDX_FILES, checksums="content")
    both = DatasetSpec(**{**md5_only.__dict__, "files": tuple(
        type(f)(f.name, f.url, md5=f.md5, content_sha256=c.content_sha256)
        for f, c in zip(md5_only.files, with_content.files, strict=True)
    )})
    debian = tmp_path / "debian"
    debian.mkdir()
    for name in IDX_FILES:  # Debian recompressed: same content, different bytes.
        content = gzip.decompress((source / name).read_bytes())
        (debian / name).write_bytes(gzip.compress(content, compresslevel=1, mtime=12345))
        assert (debian / name).read_bytes() != (source / name).read_bytes()
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    _assert_same(load_dataset(both, data_dir=debian, progress=False), expected)
    with pytest.raises(ZooError, match=r"md5 is .* expected") as error:
        load_dataset(md5_only, data_dir=debian, progress=False)
    assert "delete it or replace it" in str(error.value)


def test_corrupt_cached_file_is_fetched_again(server: FileServer, tmp_path: Path, cache: Path) -> None:
    spec, expected = _served_idx(server, tmp_path)
    load_dataset(spec, progress=False)
    cached = cache / "tiny" / "train-images-idx3-ubyte.gz"
    good = cached.read_bytes()
    cached.write_bytes(good[: len(good) // 2])  # truncated
    for entry in (cache / "tiny").glob("arrays-*"):
        for file in entry.iterdir():
            file.unlink()
        entry.rmdir()
    _assert_same(load_dataset(spec, progress=False), expected)
    assert cached.read_bytes() == good
    assert server.hits.count("/official/tiny/train-images-idx3-ubyte.gz") == 2


def test_corrupt_cached_file_offline_says_what_to_delete(tmp_path: Path, cache: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "upstream"
    write_idx_dataset(source)
    spec = spec_for("tiny", source, IDX_FILES)
    write_idx_dataset(cache / "tiny")
    bad = cache / "tiny" / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(b"garbage")
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(ZooError) as error:
        load_dataset(spec, progress=False)
    message = str(error.value)
    assert f"{bad} fails its checksum" in message and "delete it" in message
    assert "\n" not in message


def test_nowhere_offline_is_one_clear_error(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "upstream"
    write_idx_dataset(source)
    spec = spec_for("tiny", source, IDX_FILES, system_dirs=("/usr/share/datasets/tiny",))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(ZooError) as error:
        load_dataset(spec, data_dir=tmp_path / "mine", progress=False)
    message = str(error.value)
    assert message.startswith("dataset 'tiny' is not available")
    for searched in (tmp_path / "mine" / "tiny", tmp_path / "mine", cache / "tiny", "/usr/share/datasets/tiny"):
        assert str(searched) in message
    for fix in ("`data_dir`", "ZOO_DATA_DIR", "ZOO_DATASET_MIRROR", "Debian package dataset-tiny", "ZOO_OFFLINE"):
        assert fix in message
    assert "\n" not in message


def test_every_url_failing_names_each_attempt(server: FileServer, tmp_path: Path, cache: Path) -> None:
    source = tmp_path / "upstream"
    write_idx_dataset(source)
    write_idx_dataset(tmp_path / "other", seed=5)  # same names, other content: fails the md5s
    broken = server.add_dir("broken", tmp_path / "other")
    spec = spec_for("tiny", source, IDX_FILES, official=dead_url("x"), mirrors=(broken,))
    with pytest.raises(ZooError) as error:
        load_dataset(spec, progress=False)
    message = str(error.value)
    assert "dataset 'tiny' is not available" in message and "could not download" in message
    assert "refused" in message and "md5 is" in message
    assert [p.name for p in (cache / "tiny").iterdir()] == []  # nothing partial kept


def test_changed_source_is_parsed_again(server: FileServer, tmp_path: Path, cache: Path) -> None:
    spec, expected = _served_idx(server, tmp_path)
    load_dataset(spec, progress=False)
    old_arrays = list((cache / "tiny").glob("arrays-*"))
    newer = tmp_path / "newer"
    new_expected = write_idx_dataset(newer, seed=7)
    for name in IDX_FILES:
        (cache / "tiny" / name).unlink()
    spec2 = spec_for("tiny", newer, IDX_FILES, official=server.add_dir("v2", newer))
    _assert_same(load_dataset(spec2, progress=False), new_expected)
    assert not any(p.exists() for p in old_arrays)  # the stale entry was pruned
    assert not np.array_equal(new_expected["train"][0], expected["train"][0])


def test_without_checksums_the_cache_follows_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    first = write_idx_dataset(data, seed=1)
    spec = spec_for("tiny", data, IDX_FILES, checksums="none")
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    _assert_same(load_dataset(spec, data_dir=data, progress=False), first)
    second = write_idx_dataset(data, seed=2)
    _assert_same(load_dataset(spec, data_dir=data, progress=False), second)


def test_damaged_array_cache_is_rebuilt(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    expected = write_idx_dataset(data)
    spec = spec_for("tiny", data, IDX_FILES)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    load_dataset(spec, data_dir=data, progress=False)
    (npy,) = (cache / "tiny").glob("arrays-*/train_images.npy")
    npy.write_bytes(npy.read_bytes()[:100])
    _assert_same(load_dataset(spec, data_dir=data, progress=False), expected)


def test_truncated_idx_without_checksums_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    write_idx_dataset(data)
    spec = spec_for("tiny", data, IDX_FILES, checksums="none")
    raw = gzip.decompress((data / "train-images-idx3-ubyte.gz").read_bytes())
    (data / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:-10]))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(ZooError, match=r"train-images-idx3-ubyte\.gz is truncated"):
        load_dataset(spec, data_dir=data, progress=False)


CIFAR10 = dict(loader="zoo.data.loaders:load_cifar10", shape=(32, 32, 3))
CIFAR100 = dict(loader="zoo.data.loaders:load_cifar100", shape=(32, 32, 3), classes=100)


def test_cifar10_end_to_end(server: FileServer, tmp_path: Path, cache: Path) -> None:
    source = tmp_path / "upstream"
    expected = write_cifar10(source)
    spec = spec_for("tiny-cifar", source, ("cifar-10-python.tar.gz",), official=server.add_dir("c", source),
                    **CIFAR10)
    dataset = load_dataset(spec, progress=False)
    _assert_same(dataset, expected)
    assert dataset.train.images.shape == (30, 32, 32, 3)
    assert not list(cache.glob(".extract-*"))  # the scratch extraction is gone
    train, val = split_validation(dataset.train, 0.1, seed=0)
    assert len(train) == 27 and val is not None and len(val) == 3


def test_cifar100_end_to_end(server: FileServer, tmp_path: Path) -> None:
    source = tmp_path / "upstream"
    expected = write_cifar100(source)
    spec = spec_for("tiny-cifar100", source, ("cifar-100-python.tar.gz",), official=server.add_dir("c", source),
                    **CIFAR100)
    _assert_same(load_dataset(spec, progress=False), expected)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_inside_the_archive_is_refused(tmp_path: Path, cache: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned"
    data = tmp_path / "data"
    write_cifar10(data, replace={"data_batch_3": py2_pickle({b"data": _Evil(marker), b"labels": [1]})})
    spec = spec_for("tiny-cifar", data, ("cifar-10-python.tar.gz",), **CIFAR10)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(ZooError, match=r"data_batch_3 is not a plain-data pickle: refusing to load global"):
        load_dataset(spec, data_dir=data, progress=False)
    assert not marker.exists()
    assert not list(cache.rglob("arrays-*"))


def test_archive_escaping_its_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    write_cifar10(data)
    archive = data / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]
    with tarfile.open(archive, "w:gz") as tar:
        for member, payload in members:
            tar.addfile(member, None if payload is None else io.BytesIO(payload))
        evil = tarfile.TarInfo("cifar-10-batches-py/../../escaped")
        evil.size = 1
        tar.addfile(evil, io.BytesIO(b"x"))
    spec = spec_for("tiny-cifar", data, ("cifar-10-python.tar.gz",), **CIFAR10)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(ZooError, match=r"'\.\.' component"):
        load_dataset(spec, data_dir=data, progress=False)
    assert not list(tmp_path.rglob("escaped"))


def wrong_shape_loader(directory: Path) -> dict:
    images = np.zeros((2, 5, 5, 1), np.uint8)
    return {"train": (images, np.zeros(2, np.int64)), "test": (images, np.zeros(2, np.int64))}


def raising_loader(directory: Path) -> dict:
    raise KeyError("no such column")


def out_of_range_loader(directory: Path) -> dict:
    images = np.zeros((2, 8, 8, 1), np.uint8)
    return {"train": (images, np.array([0, 10])), "test": (images, np.array([0, 1]))}


@pytest.mark.parametrize(
    ("loader", "error", "message"),
    [
        ("tests.test_data_load:wrong_shape_loader", PluginError, r"expected uint8 \(N, 8, 8, 1\)"),
        ("tests.test_data_load:out_of_range_loader", ZooError, r"train labels range 0\.\.10, outside 0\.\.9"),
        ("tests.test_data_load:raising_loader", PluginError, r"raising_loader failed on .*: KeyError: 'no such"),
    ],
)
def test_loader_results_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    loader: str, error: type, message: str) -> None:
    data = tmp_path / "data"
    write_idx_dataset(data)
    spec = spec_for("tiny", data, IDX_FILES, loader=loader)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(error, match=message):
        load_dataset(spec, data_dir=data, progress=False)


def bundled_loader(directory: Path) -> dict:
    images = np.full((3, 8, 8, 1), 7, np.uint8)
    return {"train": (images, np.array([0, 1, 2])), "test": (images[:1], np.array([2]))}


def test_dataset_without_files_needs_no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = DatasetSpec(name="bundled", files=(), loader="tests.test_data_load:bundled_loader",
                       classes=("a", "b", "c"), shape=(8, 8, 1), mean=(0.5,), std=(0.5,))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    first = load_dataset(spec, progress=False)
    assert first.train.labels.tolist() == [0, 1, 2] and len(first.test) == 1
    assert isinstance(load_dataset(spec, progress=False).train.images, np.memmap)
