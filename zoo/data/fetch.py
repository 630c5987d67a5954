"""Downloads: one URL after another, a timeout, checksums, and atomic renames.

A file is streamed into a temporary file next to its final path, verified,
and only then renamed into place, so no run ever sees a partial file: a
download killed half-way leaves, at most, a hidden ``.part`` file. An HTTPS
URL is never retried over HTTP and a redirect from HTTPS to HTTP is refused.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from http.client import HTTPException
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from zoo.api.errors import ZooError
from zoo.api.specs import DataFile, DatasetSpec

MIRROR_ENV = "ZOO_DATASET_MIRROR"
TIMEOUT_ENV = "ZOO_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT = 30.0
CHUNK = 1 << 16
STALE_PART_SECONDS = 3600

Verifier = Callable[[Path], "str | None"]


class DownloadError(ZooError):
    """Every URL for a file failed; ``attempts`` holds one line per URL."""

    def __init__(self, message: str, attempts: Sequence[str]) -> None:
        super().__init__(message)
        self.attempts = list(attempts)


class _NoDowngradeRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects, except from HTTPS to anything that is not HTTPS."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        if urlsplit(req.full_url).scheme == "https" and urlsplit(newurl).scheme != "https":
            raise urllib.error.URLError(f"refused redirect from HTTPS to {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoDowngradeRedirects())


def download_timeout() -> float:
    """Seconds a connection may stall (``ZOO_DOWNLOAD_TIMEOUT``, default 30)."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise ZooError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None


def candidate_urls(spec: DatasetSpec, file: DataFile) -> list[str]:
    """Where ``file`` may be fetched from, in order.

    ``$ZOO_DATASET_MIRROR/<dataset>/<file>`` first when set (the user's explicit
    choice, HTTP allowed), then the official URL, then each of the spec's mirrors
    (``<mirror>/<file>``). When any of the spec's URLs is HTTPS its plain-HTTP
    ones are dropped.
    """
    published = [file.url] if file.url else []
    published += [f"{base.rstrip('/')}/{file.name}" for base in spec.mirrors]
    if any(urlsplit(url).scheme == "https" for url in published):
        # HTTPS never falls back to HTTP: plain-HTTP mirrors count only when nothing offers HTTPS.
        published = [url for url in published if urlsplit(url).scheme == "https"]
    urls: list[str] = []
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if mirror:
        urls.append(f"{mirror.rstrip('/')}/{spec.name}/{file.name}")
    return list(dict.fromkeys(urls + published))


def _check_scheme(url: str) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("only http and https URLs are fetched")


def _sweep_stale_parts(destination: Path) -> None:
    cutoff = time.time() - STALE_PART_SECONDS
    for part in destination.parent.glob(f".{destination.name}.*.part"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
        except OSError:
            pass


def _stream(response: IO[bytes], out: IO[bytes], advance: Callable[[int], None]) -> int:
    written = 0
    while True:
        chunk = response.read(CHUNK)
        if not chunk:
            return written
        out.write(chunk)
        written += len(chunk)
        advance(len(chunk))


def fetch_url(url: str, destination: Path, *, verify: Verifier, timeout: float, progress: bool) -> None:
    """Fetch one URL to ``destination`` atomically; raise on any failure.

    Raises ``OSError``, ``HTTPException``, ``ValueError`` or ``ZooError``
    (short read, checksum mismatch); the caller moves on to the next URL.
    """
    _check_scheme(url)
    request = urllib.request.Request(url, headers={"User-Agent": "zoo-datasets/0.1"})
    fd, part_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    part = Path(part_name)
    try:
        with os.fdopen(fd, "wb") as out, _opener().open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with _progress(destination.name, total, enabled=progress) as advance:
                written = _stream(response, out, advance)
            out.flush()
            os.fsync(out.fileno())
        if total is not None and written != total:
            raise ZooError(f"connection closed after {written:,} of {total:,} bytes")
        problem = verify(part)
        if problem:
            raise ZooError(problem)
        os.replace(part, destination)
    finally:
        part.unlink(missing_ok=True)


def download(
    urls: Sequence[str],
    destination: Path,
    *,
    verify: Verifier,
    timeout: float | None = None,
    progress: bool = True,
) -> str:
    """Fetch ``destination`` from the first of ``urls`` that gives a verified file.

    ``verify(path)`` returns None for a good file or a short description of
    what is wrong. Returns the URL that worked; raises :class:`DownloadError`
    listing every attempt when none did.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale_parts(destination)
    timeout = download_timeout() if timeout is None else timeout
    attempts: list[str] = []
    for url in urls:
        if progress:
            _say(f"downloading {destination.name} from {url}")
        try:
            fetch_url(url, destination, verify=verify, timeout=timeout, progress=progress)
            return url
        except (OSError, HTTPException, ValueError, ZooError) as exc:
            attempts.append(f"{url}: {_describe(exc)}")
            if progress:
                _say(f"{url} failed: {_describe(exc)}" + ("; trying the next mirror" if url != urls[-1] else ""))
    tried = "; ".join(attempts) if attempts else "no URL to try"
    raise DownloadError(f"could not download {destination.name} ({tried})", attempts)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _say(message: str) -> None:
    print(f"zoo: {message}", file=sys.stderr, flush=True)


class _progress:
    """A rich progress bar on stderr (a no-op when disabled); yields an ``advance(n)`` callable."""

    def __init__(self, label: str, total: int | None, *, enabled: bool) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self._bar: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda _n: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._bar.start()
        task = self._bar.add_task(self.label, total=self.total)
        return lambda n: self._bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
