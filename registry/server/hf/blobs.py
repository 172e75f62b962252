"""The file downloads of the Hugging Face routes (``/resolve``): the generated README from
memory, signed blobs from the store, with ranges, conditional requests and redirects.

The Hugging Face client checks sizes, not hashes, so content is checked here before it is
served: a local blob is hashed once per (path, inode, size, mtime) and process, and one that no
longer matches its address is refused (HTTP 500, ``blob_corrupt``); a blob streamed from the
store is hashed as it streams and its last chunk is held back until the hash matched, so a
corrupt one arrives short. With ``redirect_blobs`` a download is a 302 to a presigned store
URL carrying the Hub's ``X-Linked-*`` headers; the bytes then bypass this check."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from flask import Response, request, send_file
from werkzeug.http import parse_range_header
from werkzeug.wrappers import Response as BaseResponse

from registry.core.errors import StorageError
from registry.storage.objects import blob_key

from .revisions import Entry

__all__ = ["disposition", "serve_blob", "serve_bytes"]

log = logging.getLogger("edzoo.hf")
_CHUNK = 1 << 20


def disposition(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    ascii_name = base.encode("ascii", "replace").decode().replace('"', "")
    return f"inline; filename*=UTF-8''{quote(base)}; filename=\"{ascii_name}\""


def _ignore_unsatisfiable_range(size: int) -> None:
    """Drop a Range header this file cannot satisfy, so the answer is the whole file (200), as
    HTTP allows, rather than a 416 the client would not recover from."""
    header = request.environ.get("HTTP_RANGE")
    if header is None:
        return
    parsed = parse_range_header(header)
    if parsed is None or parsed.range_for_length(size) is None:
        del request.environ["HTTP_RANGE"]


def serve_bytes(data: bytes, mimetype: str, headers: dict[str, str]) -> BaseResponse:
    _ignore_unsatisfiable_range(len(data))
    response: BaseResponse = Response(data, mimetype=mimetype, headers=headers)
    if request.method == "HEAD":  # Werkzeug sends the headers of the full response, no body
        return response
    response = response.make_conditional(request, accept_ranges=True, complete_length=len(data))
    response.headers.pop("Date", None)  # the WSGI server sends its own; two would be sent
    return response


def _head(size: int, mimetype: str, headers: dict[str, str]) -> BaseResponse:
    response = Response(mimetype=mimetype, headers=headers)
    response.headers["Content-Length"] = str(size)  # after the constructor, which sets it to 0
    return response


def serve_blob(registry: Any, entry: Entry, headers: dict[str, str]) -> BaseResponse:
    """Serve signed blob ``entry`` of ``registry`` (a :class:`~registry.server.repository.Registry`)."""
    assert entry.sha256 is not None
    objects, key = registry.objects, blob_key(entry.sha256)
    if registry.config.redirect_blobs:
        url = objects.presigned_url(key, registry.config.redirect_expiry_s)
        if url is not None:
            # The client reads the X-Repo-Commit, X-Linked-Etag and X-Linked-Size of this 302 and
            # GETs the Location without its Authorization header.
            redirect_headers = {k: v for k, v in headers.items() if k not in {"ETag", "Accept-Ranges"}}
            redirect_headers["Cache-Control"] = "no-store"
            response = Response(status=302, headers={**redirect_headers, "Location": url})
            response.headers["Content-Length"] = "0"
            return response
    if request.method == "HEAD":
        return _head(entry.size, "application/octet-stream", headers)
    _ignore_unsatisfiable_range(entry.size)
    local = objects.local_path(key)
    if local is not None:
        if not _local_blob_matches(local, entry.sha256, entry.size):
            raise _corrupt(entry)
        response = send_file(local, mimetype="application/octet-stream", conditional=True, etag=entry.sha256)
        for k, v in headers.items():
            response.headers[k] = v
        response.headers.pop("Date", None)  # the WSGI server sends its own; two would be sent
        return response
    span = _byte_range(entry.size)
    start, stop = span or (0, entry.size)
    stream = _verified_chunks(objects.open(key), entry, start, stop)
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{entry.size}"
    headers["Content-Length"] = str(stop - start)
    status = 206 if span is not None else 200
    return Response(stream, status=status, mimetype="application/octet-stream", headers=headers)


def _corrupt(entry: Entry) -> StorageError:
    log.error("blob %s of %s no longer matches its sha256: not serving it", entry.sha256, entry.path)
    return StorageError(
        f"the stored copy of {entry.path} no longer matches its signed sha256 {entry.sha256}: "
        "the registry's administrator must restore it from a backup or republish it",
        code="blob_corrupt",
    )


def _byte_range(size: int) -> tuple[int, int] | None:
    """The (start, stop) of a satisfiable single-range ``Range`` header, else None."""
    parsed = parse_range_header(request.environ.get("HTTP_RANGE"))
    return parsed.range_for_length(size) if parsed is not None else None


_VERIFIED: dict[tuple[str, int, int, int], bool] = {}
_VERIFIED_LOCK = threading.Lock()
_VERIFIED_MAX = 100_000


def _local_blob_matches(path: Path, sha256: str, size: int) -> bool:
    """Whether a local blob still holds the bytes of its address: hashed once per (path, inode,
    size, mtime) in this process, so a file changed on disk is hashed again."""
    st = os.stat(path)
    if st.st_size != size:
        return False
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    with _VERIFIED_LOCK:
        known = _VERIFIED.get(key)
    if known is not None:
        return known
    with open(path, "rb") as f:
        ok = hashlib.file_digest(f, "sha256").hexdigest() == sha256
    with _VERIFIED_LOCK:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = ok
    return ok


def _verified_chunks(f: BinaryIO, entry: Entry, start: int, stop: int) -> Iterator[bytes]:
    """Stream bytes [start, stop) of a blob, hashing all of it; the last chunk is sent only once
    the sha256 and size matched, so a corrupt blob arrives short and the client rejects it."""
    digest = hashlib.sha256()
    pos = 0
    pending: bytes | None = None
    try:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            lo, hi = max(start - pos, 0), min(stop - pos, len(chunk))
            pos += len(chunk)
            if lo < hi:
                if pending is not None:
                    yield pending
                pending = chunk[lo:hi]
        if pos != entry.size or digest.hexdigest() != entry.sha256:
            # Raising (not returning) makes the WSGI server drop the connection, so the client
            # sees a short body at once instead of waiting on a kept-alive connection.
            raise _corrupt(entry)
        if pending is not None:
            yield pending
    finally:
        f.close()
