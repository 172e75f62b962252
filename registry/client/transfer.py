"""A signed target into the cache: streamed once over the wire, hashed while it streams, and
resumed from the partial file that a dropped link or Ctrl-C left behind.

The partial file is ``blobs/incomplete/<sha256>.incomplete``, named by the signed hash, so a
second pull of the same file finds it. A pull that finds one hashes what it holds and asks the
registry for the rest (``Range: bytes=N-``); a registry that answers 200 instead (no ranges)
sends the whole file again, which replaces the partial. The signed length caps what is
accepted (no endless data), and the sha256 over the whole file, old part and new, decides: a
complete answer whose length or hash differs deletes the partial and raises SignatureError,
so a tampered partial costs one download, never a bad blob. A transfer that stops midway
(the link dropped, the registry went silent, Ctrl-C) keeps the partial, flushed, and raises
DownloadError that says how far it got. Two processes pulling the same file take turns (an
exclusive lock on the partial file); the second then finds the blob in place.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import urllib3
from tuf.api.metadata import TargetFile

from registry.core._internal import faults
from registry.core.errors import DownloadError, SignatureError
from registry.core.units import format_bytes

from .cache import Cache
from .http import ProgressFetcher, network_error

__all__ = ["download_target", "partial_path"]

_READ = 1 << 20


def partial_path(cache: Cache, sha256: str) -> Path:
    """Where the bytes of a download of ``sha256`` wait until they are complete and verified."""
    return cache.root / "blobs" / "incomplete" / f"{sha256}.incomplete"


def _hash_prefix(f: BinaryIO, n: int) -> hashlib._Hash:
    digest = hashlib.sha256()
    f.seek(0)
    left = n
    while left and (block := f.read(min(_READ, left))):
        digest.update(block)
        left -= len(block)
    return digest


class _Hashing:
    """sha256 of a stream, computed on a second thread while the first receives and writes
    (hashlib releases the GIL on large updates, so a download costs about the larger of the
    two, not their sum). Chunks are hashed in order; at most ``_AHEAD`` wait."""

    _AHEAD = 8
    THREADED_FROM = 4 << 20  # bytes; a smaller file is hashed inline (a thread costs more)

    def __init__(self, digest: hashlib._Hash, size: int) -> None:
        self._digest = digest
        self._pool = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="edzoo-sha256") if size >= self.THREADED_FROM else None
        )
        self._pending: deque[Future[None]] = deque()

    def update(self, chunk: bytes) -> None:
        if self._pool is None:
            self._digest.update(chunk)
            return
        if len(self._pending) >= self._AHEAD:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._digest.update, chunk))

    def result(self) -> hashlib._Hash:
        """The digest of every chunk given (waits for the last)."""
        while self._pending:
            self._pending.popleft().result()
        return self._digest

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _resumed_from(response: urllib3.BaseHTTPResponse, have: int, length: int) -> bool:
    """True when the answer is the rest of the file from byte ``have``: a 206 whose
    Content-Range starts there and spans the signed length."""
    if response.status != 206:
        return False
    return response.headers.get("Content-Range", "").strip() == f"bytes {have}-{length - 1}/{length}"


def download_target(
    fetcher: ProgressFetcher,
    url: str,
    info: TargetFile,
    cache: Cache,
    *,
    registry: str,
    on_progress: Callable[[int], None] | None = None,
) -> Path:
    """Download ``info`` from ``url`` into the cache and return the committed blob. Raises
    SignatureError (wrong length or hash; the partial is deleted), DownloadError (the transfer
    stopped; the partial is kept for the next pull), DownloadHTTPError from the fetcher."""
    sha, length = info.hashes["sha256"], info.length
    part = partial_path(cache, sha)
    part.parent.mkdir(parents=True, exist_ok=True)
    faults.point("cache:blob")
    while True:
        with open(part, "a+b") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another pull of this file is under way: let it finish, then look
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                blob = cache.verified_blob(sha, length)
                if blob is not None:
                    return blob
                if not _same_file(f, part):  # it committed or discarded the file we waited on
                    continue
            have = f.seek(0, os.SEEK_END)
            if have > length:  # more than the signed length: not a prefix of this file
                f.truncate(0)
                have = 0
            digest = _hash_prefix(f, have)
            size = have
            if have < length:
                size, digest = _receive(
                    fetcher, url, f, digest, have, length, registry=registry, on_progress=on_progress
                )
            f.flush()
            if size != length or digest.hexdigest() != sha:
                _discard(part)
                raise SignatureError(
                    f"{url}: downloaded bytes do not match their signed length and sha256 "
                    f"(got {size:,} bytes, signed {length:,}); nothing was kept"
                )
            return cache.commit_blob(part, sha)  # under the lock: a waiting pull then finds the blob


def _same_file(f: BinaryIO, path: Path) -> bool:
    try:
        return os.fstat(f.fileno()).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def _receive(
    fetcher: ProgressFetcher,
    url: str,
    f: BinaryIO,
    digest: hashlib._Hash,
    have: int,
    length: int,
    *,
    registry: str,
    on_progress: Callable[[int], None] | None,
) -> tuple[int, hashlib._Hash]:
    """Append the rest of the file to ``f`` (or all of it, when the registry ignores the range),
    hashing as it goes: the file's size and the sha256 of all of it."""
    response = fetcher.open(url, offset=have)
    try:
        have_now = have
        if have and not _resumed_from(response, have, length):
            f.truncate(0)
            digest, have_now = hashlib.sha256(), 0  # the whole file again: start over
        f.seek(have_now)
        if on_progress is not None and have_now:
            on_progress(have_now)
        written = 0
        hashing = _Hashing(digest, length - have_now)
        try:
            # read1: every byte that arrived is written before the next read, so a dropped link
            # loses nothing that was received (read() would drop its buffered chunk). Only the
            # reads are the network's; a failed write (a full disk) stays an OSError, which the
            # cache reports as a StorageError.
            while chunk := _read(response, fetcher, f, url, have_now + written, length, registry):
                if have_now + written + len(chunk) > length:
                    _discard(Path(f.name))
                    raise SignatureError(
                        f"{url}: the registry sent more bytes than the signed length (endless data), "
                        f"{length:,} signed; nothing was kept"
                    )
                faults.point("cache:write")
                f.write(chunk)
                hashing.update(chunk)
                written += len(chunk)
                fetcher.count(len(chunk))
                if on_progress is not None:
                    on_progress(len(chunk))
            return have_now + written, hashing.result()
        finally:
            hashing.close()
    finally:
        response.release_conn()


def _read(
    response: urllib3.BaseHTTPResponse,
    fetcher: ProgressFetcher,
    f: BinaryIO,
    url: str,
    got: int,
    length: int,
    registry: str,
) -> bytes:
    """The next bytes of the answer; a transfer that stops raises DownloadError saying how far it
    got, with the partial file flushed for the next pull to resume."""
    try:
        return response.read1(fetcher.chunk_size)
    except (urllib3.exceptions.HTTPError, OSError) as e:
        f.flush()
        cause = network_error(e, registry, fetcher.config.timeout_s)
        why = cause.message if cause is not None else type(e).__name__
        raise DownloadError(
            f"the download of {url.rsplit('/', 1)[-1]} stopped at {format_bytes(got)} of "
            f"{format_bytes(length)} ({why}); pull again to resume from there",
            code=cause.code if cause is not None else "download_failed",
        ) from e


def _discard(part: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        part.unlink()
