"""Object stores: where blobs and TUF metadata files live.

Keys are '/'-separated (``blobs/sha256/ab/abcdef…``, ``tuf/3.snapshot.json``). Every write is
atomic: a reader sees the old object or the new one, never a part. The filesystem store is the
embedded default; an S3 store implements the same interface.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import IO, BinaryIO

from registry.core.errors import NotFoundError, StorageError, UsageError

__all__ = ["FsObjectStore", "ObjectStore", "blob_key", "ingest"]

_KEY_RE = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


def blob_key(sha256: str) -> str:
    if not _SHA256_RE.match(sha256 or ""):
        raise UsageError(f"invalid sha256 {sha256!r}: expected 64 lowercase hex digits")
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


class ObjectStore(abc.ABC):
    """A flat key → bytes store with atomic writes."""

    @abc.abstractmethod
    def put_file(self, key: str, src: Path) -> None:
        """Store the content of ``src`` (which the store may move away) under ``key``."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Open for reading; NotFoundError if absent."""

    @abc.abstractmethod
    def size(self, key: str) -> int | None:
        """Size in bytes, or None if absent."""

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    def local_path(self, key: str) -> Path | None:
        """A local file holding the object, when the store has one (lets servers use sendfile)."""
        return None

    @property
    @abc.abstractmethod
    def scratch_dir(self) -> Path:
        """A local folder for temp files of uploads in progress."""


class FsObjectStore(ObjectStore):
    """Objects as files under a root folder; writes are temp file + fsync + rename."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / ".tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY_RE.match(key) or any(p in {".", ".."} for p in key.split("/")):
            raise UsageError(f"invalid object key {key!r}")
        return self.root / key

    @property
    def scratch_dir(self) -> Path:
        return self._tmp

    def put_file(self, key: str, src: Path) -> None:
        dest = self._path(key)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(src, "rb") as f:
                os.fsync(f.fileno())
            os.replace(src, dest)
        except OSError as e:
            raise _storage_error(e, key) from e

    def put_bytes(self, key: str, data: bytes) -> None:
        dest = self._path(key)
        tmp = None
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._tmp)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, dest)
        except OSError as e:
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise _storage_error(e, key) from e

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError as e:
            raise NotFoundError(f"no object {key}") from e
        except OSError as e:
            raise _storage_error(e, key) from e

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None


def _storage_error(e: OSError, key: str) -> StorageError:
    if e.errno == errno.ENOSPC:
        return StorageError(f"disk full while writing {key}; nothing was changed", code="disk_full")
    return StorageError(f"storage failed on {key}: {e.strerror or e}")


def ingest(store: ObjectStore, stream: IO[bytes], *, sha256: str, length: int) -> bool:
    """Stream an upload into the store under its content address.

    The bytes go to a temp file while their sha256 and length are checked; only a complete,
    matching upload is stored. Returns False if the blob was already there (the stream is
    drained and checked all the same). Raises UsageError on a short, long or mismatching body.
    """
    key = blob_key(sha256)
    digest = hashlib.sha256()
    received = 0
    fd, tmp = tempfile.mkstemp(dir=store.scratch_dir, suffix=".upload")
    try:
        with os.fdopen(fd, "wb") as f:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                received += len(chunk)
                if received > length:
                    raise UsageError(f"upload is longer than the declared {length} bytes", code="length_mismatch")
                digest.update(chunk)
                f.write(chunk)
        if received != length:
            raise UsageError(f"upload ended after {received} of {length} bytes (truncated)", code="length_mismatch")
        if digest.hexdigest() != sha256:
            raise UsageError(f"upload has sha256 {digest.hexdigest()}, not {sha256}", code="hash_mismatch")
        if store.size(key) == length:
            return False
        store.put_file(key, Path(tmp))
        return True
    except OSError as e:
        raise _storage_error(e, key) from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
