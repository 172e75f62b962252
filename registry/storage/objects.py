"""Object stores: where blobs and TUF metadata files live.

Keys are '/'-separated (``blobs/sha256/ab/abcdef…``, ``tuf/3.snapshot.json``). Every write is
atomic: a reader sees the old object or the new one, never a part. The filesystem store is the
embedded default; :class:`S3ObjectStore` keeps the same contract on S3 or any S3-compatible
service. :func:`open_store` turns a location (a folder or ``s3://bucket/prefix``) into a store.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO
from urllib.parse import urlsplit

from registry.core._internal import faults
from registry.core.errors import NotFoundError, StorageError, UnavailableError, UsageError, storage_error

__all__ = ["FsObjectStore", "ObjectStore", "S3Config", "S3ObjectStore", "blob_key", "ingest", "open_store"]

_KEY_RE = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20
SCRATCH_MAX_AGE_S = 3600.0  # an upload's scratch file untouched this long was left by a crash


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

    def presigned_url(self, key: str, expires_s: int) -> str | None:
        """A URL that serves the object without the app servers, when the store can make one."""
        return None

    def describe(self) -> str:
        """Where the objects are, for logs and messages."""
        return type(self).__name__

    @property
    @abc.abstractmethod
    def scratch_dir(self) -> Path:
        """A local folder for temp files of uploads in progress."""

    def clean_scratch(self, older_than_s: float = SCRATCH_MAX_AGE_S) -> int:
        """Remove scratch files untouched for ``older_than_s`` seconds (left by a process that
        died mid-upload); returns how many. A server calls it when it starts.

        Several server processes (gunicorn workers, servers on other machines sharing the folder)
        write scratch files at any time, and uploads run outside the writer lock, so "every
        file at start" would cut another process's upload short. An upload in progress touches
        its file with every chunk and a metadata write lives for milliseconds: a file an hour
        old belongs to nobody. Should one still be in use, the upload fails when it is stored
        (its file is gone); nothing partial is ever stored."""
        removed = 0
        cutoff = time.time() - older_than_s
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.scratch_dir):
                with contextlib.suppress(FileNotFoundError):  # another process removed it first
                    if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
        return removed


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

    def describe(self) -> str:
        return str(self.root)

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
    return storage_error(e, f"storing {key} on disk", then="nothing was changed")


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
        faults.point("upload:before-store")
        store.put_file(key, Path(tmp))
        return True
    except OSError as e:
        raise _storage_error(e, key) from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


# -- S3 ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class S3Config:
    """Where an S3 store lives. Credentials come from boto3's usual chain (environment,
    ``~/.aws``, instance or task roles), never from here."""

    bucket: str
    prefix: str = ""
    region: str | None = None
    endpoint_url: str | None = None  # an S3-compatible service (MinIO, Ceph, moto, ...)
    multipart_threshold: int = 64 << 20  # larger uploads go in parts of this size
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_attempts: int = 3  # botocore's retries, for throttling, 5xx and connection errors
    scratch: Path | None = None  # local folder for uploads being checked

    @classmethod
    def from_url(cls, url: str, env: dict[str, str]) -> S3Config:
        """``s3://bucket/prefix``; the rest from ``EDZOO_S3_*`` variables (and ``AWS_*`` for boto3)."""
        parsed = urlsplit(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise UsageError(f"not an S3 location: {url!r} (expected s3://bucket/prefix)")
        try:
            return cls(
                bucket=parsed.netloc,
                prefix=parsed.path.strip("/"),
                region=env.get("EDZOO_S3_REGION") or env.get("AWS_DEFAULT_REGION") or None,
                endpoint_url=env.get("EDZOO_S3_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL_S3") or None,
                multipart_threshold=int(env.get("EDZOO_S3_MULTIPART_BYTES", 64 << 20)),
                connect_timeout_s=float(env.get("EDZOO_S3_CONNECT_TIMEOUT", 5.0)),
                read_timeout_s=float(env.get("EDZOO_S3_READ_TIMEOUT", 30.0)),
                max_attempts=int(env.get("EDZOO_S3_MAX_ATTEMPTS", 3)),
                scratch=Path(env["EDZOO_SCRATCH"]) if env.get("EDZOO_SCRATCH") else None,
            )
        except ValueError as e:
            raise UsageError(f"bad EDZOO_S3_* setting: {e}") from e


class S3ObjectStore(ObjectStore):
    """Objects in an S3 bucket under a prefix.

    A PUT, and the completion of a multipart upload, make an object visible whole or not at all,
    so writes are atomic without a rename. Uploads are checked in a local scratch folder first
    (:func:`ingest`), so nothing reaches its final key before its sha256 matched.
    """

    def __init__(self, config: S3Config) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.config = config
        self._client = boto3.session.Session().client(
            "s3",
            region_name=config.region,
            endpoint_url=config.endpoint_url,
            config=Config(
                connect_timeout=config.connect_timeout_s,
                read_timeout=config.read_timeout_s,
                retries={"max_attempts": config.max_attempts, "mode": "standard"},
                s3={"addressing_style": "path"} if config.endpoint_url else None,
            ),
        )
        self._transfer = TransferConfig(
            multipart_threshold=config.multipart_threshold,
            multipart_chunksize=config.multipart_threshold,
            max_concurrency=4,
        )
        self._scratch = config.scratch or Path(tempfile.gettempdir()) / "edzoo-s3-scratch"
        self._scratch.mkdir(parents=True, exist_ok=True)

    def _key(self, key: str) -> str:
        if not _KEY_RE.match(key) or any(p in {".", ".."} for p in key.split("/")):
            raise UsageError(f"invalid object key {key!r}")
        return f"{self.config.prefix}/{key}" if self.config.prefix else key

    @property
    def scratch_dir(self) -> Path:
        return self._scratch

    def describe(self) -> str:
        where = f" at {self.config.endpoint_url}" if self.config.endpoint_url else ""
        return f"s3://{self.config.bucket}/{self.config.prefix}{where}"

    @contextlib.contextmanager
    def _errors(self, key: str, action: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

        try:
            yield
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise NotFoundError(f"no object {key}") from e
            if code in {"NoSuchBucket"}:
                raise StorageError(f"the bucket {self.config.bucket} does not exist ({self.describe()})") from e
            if code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
                raise StorageError(f"the object store refused to {action} {key}: {code}; check the credentials") from e
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500 or code in {"SlowDown", "ServiceUnavailable", "InternalError"}:
                raise UnavailableError(f"the object store failed to {action} {key} ({code or status}); retry") from e
            raise StorageError(f"the object store failed to {action} {key}: {code} {e}") from e
        except (ConnectionError, ReadTimeoutError) as e:
            raise UnavailableError(
                f"the object store {self.describe()} did not answer while trying to {action} {key}; retry"
            ) from e
        except BotoCoreError as e:
            raise StorageError(f"the object store failed to {action} {key}: {e}") from e

    def put_file(self, key: str, src: Path) -> None:
        from boto3.exceptions import S3UploadFailedError

        full = self._key(key)
        size = Path(src).stat().st_size
        try:
            with self._errors(key, "store"):
                self._client.upload_file(str(src), self.config.bucket, full, Config=self._transfer)
        except S3UploadFailedError as e:  # boto3 wraps the failed part's error
            raise UnavailableError(f"the object store failed to store {key}: {e}; retry") from e
        got = self.size(key)
        if got != size:  # never expected; S3 would have refused the completion
            raise StorageError(f"{key}: the object store holds {got} bytes after an upload of {size}")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(src)

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._errors(key, "store"):
            self._client.put_object(Bucket=self.config.bucket, Key=self._key(key), Body=data)

    def open(self, key: str) -> BinaryIO:
        with self._errors(key, "read"):
            return self._client.get_object(Bucket=self.config.bucket, Key=self._key(key))["Body"]

    def size(self, key: str) -> int | None:
        try:
            with self._errors(key, "look up"):
                return int(self._client.head_object(Bucket=self.config.bucket, Key=self._key(key))["ContentLength"])
        except NotFoundError:
            return None

    def presigned_url(self, key: str, expires_s: int) -> str | None:
        with self._errors(key, "sign a URL for"):
            return self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self.config.bucket, "Key": self._key(key)}, ExpiresIn=expires_s
            )

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (``edzoo registry init`` on a new bucket)."""
        from botocore.exceptions import ClientError

        try:
            self._client.head_bucket(Bucket=self.config.bucket)
            return
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket", "NotFound"}:
                with self._errors("", "reach the bucket"):
                    raise
        kwargs: dict = {"Bucket": self.config.bucket}
        if self.config.region and self.config.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.config.region}
        with self._errors("", "create the bucket"):
            self._client.create_bucket(**kwargs)


def open_store(location: str | Path, env: dict[str, str] | None = None) -> ObjectStore:
    """A folder path, or ``s3://bucket/prefix`` (settings from ``EDZOO_S3_*``)."""
    text = str(location)
    if text.startswith("s3://"):
        return S3ObjectStore(S3Config.from_url(text, dict(os.environ) if env is None else env))
    if "://" in text:
        raise UsageError(f"unsupported blob location {text!r}: use a folder or s3://bucket/prefix")
    return FsObjectStore(Path(text))
