"""One contract, two object stores: the folder store and the S3 store (against moto's S3 server
over HTTP on loopback). Every test runs on both."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
import urllib3

from registry.core.errors import NotFoundError, StorageError, UnavailableError, UsageError
from registry.storage.objects import FsObjectStore, ObjectStore, S3Config, S3ObjectStore, blob_key, ingest


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "folder":
        return FsObjectStore(tmp_path / "objects")
    request.getfixturevalue("s3_env")
    moto = request.getfixturevalue("moto_s3")
    s3 = S3ObjectStore(
        S3Config(
            bucket=f"contract-{os.urandom(4).hex()}",
            prefix="reg/one",
            endpoint_url=moto.url,
            multipart_threshold=5 << 20,  # S3's smallest part: an 11 MiB upload goes in 3 parts
            scratch=tmp_path / "scratch",
        )
    )
    s3.ensure_bucket()
    return s3


def _blob(n: int, seed: int = 0) -> tuple[bytes, str]:
    data = hashlib.sha256(str(seed).encode()).digest() * (n // 32 + 1)
    data = data[:n]
    return data, hashlib.sha256(data).hexdigest()


def test_put_get_size_and_missing(store: ObjectStore) -> None:
    store.put_bytes("tuf/1.root.json", b'{"a": 1}')
    assert store.get_bytes("tuf/1.root.json") == b'{"a": 1}'
    assert store.size("tuf/1.root.json") == 8
    assert store.exists("tuf/1.root.json")
    assert store.size("tuf/2.root.json") is None
    with pytest.raises(NotFoundError):
        store.open("tuf/2.root.json")
    store.put_bytes("tuf/1.root.json", b"{}")  # overwrite is atomic, whole
    assert store.get_bytes("tuf/1.root.json") == b"{}"


@pytest.mark.parametrize("key", ["../escape", "a//b", "/abs", "a/./b", "sp ace", ""])
def test_rejects_bad_keys(store: ObjectStore, key: str) -> None:
    with pytest.raises(UsageError):
        store.put_bytes(key, b"x")


def test_ingest_stores_a_checked_blob_once(store: ObjectStore) -> None:
    data, sha = _blob(70_000)
    assert ingest(store, io.BytesIO(data), sha256=sha, length=len(data)) is True
    assert store.get_bytes(blob_key(sha)) == data
    assert ingest(store, io.BytesIO(data), sha256=sha, length=len(data)) is False  # already there
    assert list(store.scratch_dir.iterdir()) == []  # no temp file left behind


def test_large_upload_is_whole_or_absent(store: ObjectStore) -> None:
    data, sha = _blob(11 << 20, seed=1)  # multipart on S3
    assert ingest(store, io.BytesIO(data), sha256=sha, length=len(data))
    assert store.size(blob_key(sha)) == len(data)
    with store.open(blob_key(sha)) as f:
        assert hashlib.sha256(f.read()).hexdigest() == sha


@pytest.mark.parametrize(
    ("body", "length", "code"),
    [
        (b"x" * 999, 1000, "length_mismatch"),  # truncated
        (b"x" * 1001, 1000, "length_mismatch"),  # longer than declared
        (b"y" * 1000, 1000, "hash_mismatch"),  # other bytes
    ],
)
def test_bad_upload_stores_nothing(store: ObjectStore, body: bytes, length: int, code: str) -> None:
    sha = hashlib.sha256(b"x" * 1000).hexdigest()
    with pytest.raises(UsageError) as e:
        ingest(store, io.BytesIO(body), sha256=sha, length=length)
    assert e.value.code == code
    assert store.size(blob_key(sha)) is None
    assert list(store.scratch_dir.iterdir()) == []


def test_put_file_consumes_its_source(store: ObjectStore, tmp_path: Path) -> None:
    src = store.scratch_dir / "upload.tmp"
    src.write_bytes(b"hello")
    store.put_file("blobs/x", src)
    assert not src.exists()
    assert store.get_bytes("blobs/x") == b"hello"


def test_presigned_url_serves_the_bytes(store: ObjectStore) -> None:
    data, sha = _blob(4096, seed=2)
    ingest(store, io.BytesIO(data), sha256=sha, length=len(data))
    url = store.presigned_url(blob_key(sha), 60)
    if isinstance(store, FsObjectStore):
        assert url is None  # a folder has no URL of its own: the server sends the file
        return
    assert url is not None and ("X-Amz-Signature=" in url or "Signature=" in url)
    response = urllib3.request("GET", url)
    assert response.status == 200 and response.data == data


def test_s3_prefix_keeps_registries_apart(s3_env, moto_s3) -> None:  # type: ignore[no-untyped-def]
    bucket = f"shared-{os.urandom(4).hex()}"
    a = S3ObjectStore(S3Config(bucket=bucket, prefix="district-a", endpoint_url=moto_s3.url))
    b = S3ObjectStore(S3Config(bucket=bucket, prefix="district-b", endpoint_url=moto_s3.url))
    a.ensure_bucket()
    a.put_bytes("tuf/timestamp.json", b"a")
    assert b.size("tuf/timestamp.json") is None
    b.put_bytes("tuf/timestamp.json", b"b")
    assert a.get_bytes("tuf/timestamp.json") == b"a"


def test_s3_missing_bucket_is_a_clear_error(s3_env, moto_s3) -> None:  # type: ignore[no-untyped-def]
    s3 = S3ObjectStore(S3Config(bucket="no-such-bucket-here", endpoint_url=moto_s3.url))
    with pytest.raises(StorageError, match="does not exist"):
        s3.put_bytes("tuf/x.json", b"{}")


def test_s3_unreachable_is_unavailable_not_a_crash(s3_env) -> None:  # type: ignore[no-untyped-def]
    from services import free_port

    s3 = S3ObjectStore(
        S3Config(
            bucket="b",
            endpoint_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
            connect_timeout_s=0.5,
            read_timeout_s=0.5,
            max_attempts=1,
        )
    )
    with pytest.raises(UnavailableError, match="did not answer") as e:
        s3.size("tuf/timestamp.json")
    assert e.value.http_status == 503


# -- the server's memory of small blobs from a remote store --------------------------------------
def test_the_blob_cache_reads_each_small_blob_once_within_its_budget() -> None:
    from registry.server.blobcache import BlobCache

    blobs = {f"k{i}": bytes([i]) * 100 for i in range(70)}
    reads: list[str] = []

    def read(key: str) -> bytes:
        reads.append(key)
        return blobs[key]

    cache = BlobCache(64 * 250)  # keeps blobs up to 250 bytes, 16,000 bytes in all
    assert cache.get("k0", 100, read) == blobs["k0"] and cache.get("k0", 100, read) == blobs["k0"]
    assert reads == ["k0"]
    assert cache.get("big", 251, read) is None and reads == ["k0"]  # too large: the caller streams it
    assert cache.get("k1", 99, read) == blobs["k1"] and len(cache) == 1  # not the signed size: not kept
    full = BlobCache(64 * 100)  # 6,400 bytes: 64 blobs of 100
    for i in range(64):
        full.get(f"k{i}", 100, read)
    full.get("k0", 100, read)  # k0 is now the most recently used
    full.get("k64", 100, read)  # one too many: k1, the least recently used, goes
    reads.clear()
    full.get("k0", 100, read)
    full.get("k1", 100, read)
    assert reads == ["k1"] and full.held <= 6400
    assert BlobCache(0).get("k0", 1, read) is None  # EDZOO_BLOB_CACHE_BYTES=0 turns it off
