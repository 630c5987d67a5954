"""Downloads from a real local HTTP server: checksums, mirrors, short reads, kills, no HTTPS downgrade."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.data_fixtures import FileServer, dead_url, isolate, serve
from zoo.api.errors import ZooError
from zoo.api.specs import DataFile, DatasetSpec
from zoo.data.fetch import DownloadError, _NoDowngradeRedirects, candidate_urls, download

BODY = os.urandom(200_000)
MD5 = hashlib.md5(BODY, usedforsecurity=False).hexdigest()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def server() -> Iterator[FileServer]:
    yield from serve()


def _verify(path: Path) -> str | None:
    got = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    return None if got == MD5 else f"md5 is {got}, expected {MD5}"


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_download_verifies_and_renames(server: FileServer, tmp_path: Path) -> None:
    url = server.add("files/blob.bin", BODY)
    dest = tmp_path / "out" / "blob.bin"
    assert download([url], dest, verify=_verify, progress=False) == url
    assert dest.read_bytes() == BODY
    assert _leftovers(dest.parent) == ["blob.bin"]


def test_progress_bar_and_messages_go_to_stderr(server: FileServer, tmp_path: Path, capsys) -> None:
    url = server.add("blob.bin", BODY)
    download([url], tmp_path / "blob.bin", verify=_verify, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"downloading blob.bin from {url}" in captured.err


@pytest.mark.parametrize("mode", ["corrupt", "drop", "404", "dead"])
def test_bad_source_then_next_mirror(server: FileServer, tmp_path: Path, mode: str) -> None:
    if mode == "corrupt":
        first = server.add("a/blob.bin", BODY[:-1] + b"!")
    elif mode == "dead":
        first = dead_url("blob.bin")
    else:
        first = server.add("a/blob.bin", BODY, mode=mode)
    second = server.add("b/blob.bin", BODY)
    dest = tmp_path / "blob.bin"
    assert download([first, second], dest, verify=_verify, progress=False) == second
    assert dest.read_bytes() == BODY
    assert _leftovers(tmp_path) == ["blob.bin"]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("corrupt", "md5 is"), ("drop", "connection closed after"), ("404", "HTTP 404"), ("dead", "refused")],
)
def test_every_source_bad_leaves_no_file(server: FileServer, tmp_path: Path, mode: str, expected: str) -> None:
    if mode == "corrupt":
        url = server.add("blob.bin", BODY[::-1])
    elif mode == "dead":
        url = dead_url("blob.bin")
    else:
        url = server.add("blob.bin", BODY, mode=mode)
    out = tmp_path / "out"
    with pytest.raises(DownloadError, match=expected) as error:
        download([url], out / "blob.bin", verify=_verify, progress=False)
    assert url in str(error.value) and isinstance(error.value, ZooError)
    assert _leftovers(out) == []


def test_killed_download_leaves_nothing_at_the_final_path(server: FileServer, tmp_path: Path) -> None:
    url = server.add("slow.bin", BODY, mode="hang")
    dest = tmp_path / "out" / "slow.bin"
    dest.parent.mkdir()
    code = (
        "import sys; from pathlib import Path; from zoo.data.fetch import download; "
        "download([sys.argv[1]], Path(sys.argv[2]), verify=lambda p: None, progress=False)"
    )
    child = subprocess.Popen([sys.executable, "-c", code, url, str(dest)])
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            parts = list(dest.parent.glob(".slow.bin.*.part"))
            if parts and parts[0].stat().st_size > 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the download never started")
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert not dest.exists()
    # The next download sweeps stale parts once they are old, and succeeds.
    for part in dest.parent.glob("*.part"):
        os.utime(part, (0, 0))
    good = server.add("good/slow.bin", BODY)
    download([good], dest, verify=_verify, progress=False)
    assert _leftovers(dest.parent) == ["slow.bin"]


def test_https_to_http_redirect_is_refused() -> None:
    handler = _NoDowngradeRedirects()
    request = urllib.request.Request("https://example.org/file.gz")
    with pytest.raises(urllib.error.URLError, match="refused redirect from HTTPS"):
        handler.redirect_request(request, None, 302, "Found", {}, "http://example.org/file.gz")
    followed = handler.redirect_request(request, None, 302, "Found", {}, "https://mirror.example.org/file.gz")
    assert followed.full_url == "https://mirror.example.org/file.gz"


def test_http_redirects_are_followed(server: FileServer, tmp_path: Path) -> None:
    target = server.add("real/blob.bin", BODY)
    start = server.add("moved/blob.bin", mode="redirect", location=target)
    download([start], tmp_path / "blob.bin", verify=_verify, progress=False)
    assert (tmp_path / "blob.bin").read_bytes() == BODY


def test_only_http_and_https_are_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(BODY)
    with pytest.raises(DownloadError, match="only http and https"):
        download([secret.as_uri()], tmp_path / "out.bin", verify=_verify, progress=False)


def _spec(url: str, mirrors: tuple[str, ...]) -> DatasetSpec:
    return DatasetSpec(
        name="demo", files=(DataFile("f.gz", url),), loader="zoo.data.loaders:load_idx_dataset",
        classes=("a", "b"), shape=(2, 2, 1), mean=(0.5,), std=(0.5,), mirrors=mirrors,
    )


def test_candidate_urls_order_and_no_https_downgrade(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec("https://official.example/d/f.gz", ("https://m1.example/x/", "http://m2.example/y"))
    assert candidate_urls(spec, spec.files[0]) == ["https://official.example/d/f.gz", "https://m1.example/x/f.gz"]
    monkeypatch.setenv("ZOO_DATASET_MIRROR", "http://127.0.0.1:9/private/")
    assert candidate_urls(spec, spec.files[0])[0] == "http://127.0.0.1:9/private/demo/f.gz"
    plain = _spec("http://official.example/f.gz", ("http://m2.example/",))
    monkeypatch.delenv("ZOO_DATASET_MIRROR")
    assert candidate_urls(plain, plain.files[0]) == ["http://official.example/f.gz", "http://m2.example/f.gz"]


def test_bad_timeout_setting_is_a_zoo_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZOO_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(ZooError, match="ZOO_DOWNLOAD_TIMEOUT"):
        download(["http://127.0.0.1:9/x"], tmp_path / "x", verify=_verify, progress=False)
