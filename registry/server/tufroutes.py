"""TUF repository routes for the updater: metadata and consistent-snapshot targets.

A cold pull asks for the timestamp, about six versioned files that its snapshot references and
three targets, so :class:`FastPath` answers those before Flask builds a request context (as a
WSGI static-file middleware serves files ahead of its framework); everything else goes on to the
routes, which own every error answer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, redirect, request, send_file
from werkzeug.http import http_date
from werkzeug.wsgi import wrap_file

from registry.core.errors import EdzooError, NotFoundError
from registry.core.tufnames import IMMUTABLE, REVALIDATE, metadata_cache_control, split_target_path
from registry.storage.objects import blob_key

from . import registry_of

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from tuf.api.metadata import TargetFile

    from .repository import Registry

bp = Blueprint("tuf", __name__, url_prefix="/tuf")


@bp.after_request
def _not_found_revalidates(response: Response) -> Response:
    if response.status_code == 404:  # a probe for the next root must not be cached as missing
        response.headers["Cache-Control"] = REVALIDATE
    return response


METADATA_PREFIX = "/tuf/metadata/"
TARGETS_PREFIX = "/tuf/targets/"


def metadata_answer(registry: Registry, name: str) -> tuple[bytes, list[tuple[str, str]]]:
    """The body and headers of a metadata file's 200 answer (raises as
    :meth:`Registry.metadata_file` does)."""
    data = registry.metadata_file(name)
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))),
        ("Cache-Control", metadata_cache_control(name)),
    ]
    return data, headers


@bp.get("/metadata/<name>")
def metadata(name: str) -> Any:
    data, headers = metadata_answer(registry_of(current_app), name)
    return Response(data, headers=headers)


# merge_slashes=False: a path with "//" is no target (404), not a redirect to another path.
@bp.get("/targets/<path:path>", merge_slashes=False)
def target(path: str) -> Any:
    registry = registry_of(current_app)
    sha256, signed = _signed_target(registry, path)
    key = blob_key(sha256)
    objects = registry.objects
    if registry.config.redirect_blobs:
        url = objects.presigned_url(key, registry.config.redirect_expiry_s)
        if url is not None:  # the client follows it, and checks length and sha256 all the same
            response = redirect(url, 302)
            response.headers["Cache-Control"] = "no-store"
            return response
    local = objects.local_path(key)
    if local is None:
        # The signed length is the blob's (it is named by its sha256): no HEAD request to the
        # store. A blob the store lacks is a NotFoundError from the read, before any byte is sent.
        data = registry.small_blob(key, signed.length)
        body = [data] if data is not None else _chunks(objects.open(key))
        return Response(body, headers=remote_target_headers(sha256, signed.length))
    if _plain(request.environ):
        plain_headers, file_body = local_target_answer(local, sha256, request.environ)
        return Response(file_body, headers=plain_headers, direct_passthrough=True)
    # A range (a resumed download) or a conditional request: werkzeug evaluates them.
    response = send_file(local, mimetype="application/octet-stream", conditional=True, etag=sha256)
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def _signed_target(registry: Registry, path: str) -> tuple[str, TargetFile]:
    """The sha256 and signed entry of consistent-snapshot target ``path``; NotFoundError unless
    the registry's signed metadata lists it. Consistent snapshots name a target file
    <sha256>.<name>; the bytes are the blob. Only a blob the signed metadata lists under that
    path is served: an upload token lets its holder store blobs, not publish them under any name."""
    split = split_target_path(path)
    if split is None:
        raise NotFoundError(f"no target {path}: expected <folder>/<sha256>.<file name>")
    folder, sha256, name = split
    signed = registry.served_target(folder + name, sha256)
    if signed is None or signed.hashes.get("sha256") != sha256:
        raise NotFoundError(
            f"no target {path}: the registry's signed metadata lists no {folder}{name} with sha256 {sha256[:12]}…; "
            "only signed targets are served"
        )
    return sha256, signed


_RANGE_AND_CONDITIONS = (
    "HTTP_RANGE",
    "HTTP_IF_RANGE",
    "HTTP_IF_MATCH",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
)
_SEND_CHUNK = 1 << 20


def _plain(environ: WSGIEnvironment) -> bool:
    """A request for the whole file, unconditionally (no Range, If-Range or If-* header)."""
    return not any(key in environ for key in _RANGE_AND_CONDITIONS)


def local_target_answer(
    local: Path, sha256: str, environ: WSGIEnvironment
) -> tuple[list[tuple[str, str]], Iterable[bytes]]:
    """The headers and body of a plain 200 for a blob on local disk: the file itself, which the
    WSGI server sends with sendfile when it can (raises OSError when it cannot be opened)."""
    f = open(local, "rb")  # noqa: SIM115 (the WSGI server closes it through the wrapper)
    try:
        st = os.fstat(f.fileno())
    except OSError:
        f.close()
        raise
    headers = [
        ("Content-Type", "application/octet-stream"),
        ("Content-Length", str(st.st_size)),
        ("ETag", f'"{sha256}"'),
        ("Last-Modified", http_date(st.st_mtime)),
        ("Cache-Control", IMMUTABLE),
        ("Accept-Ranges", "bytes"),
    ]
    return headers, wrap_file(environ, f, _SEND_CHUNK)


def remote_target_headers(sha256: str, length: int) -> list[tuple[str, str]]:
    """The headers of a plain 200 for a blob of a store without local files (S3)."""
    return [
        ("Content-Type", "application/octet-stream"),
        ("Content-Length", str(length)),
        ("ETag", f'"{sha256}"'),
        ("Cache-Control", IMMUTABLE),
    ]


Answer = tuple[list[tuple[str, str]], Iterable[bytes]]


class FastPath:
    """WSGI middleware around the app for the requests a pull makes most: a GET of the
    timestamp or of a metadata file its snapshot references gets :func:`metadata_answer`, and a
    plain GET of a signed target held on local disk or in memory (a small blob of a remote
    store) gets its plain answer, without Flask building a request context. Any other request
    (a root file, among them the updater's probe for the next root; a range; a large blob of a
    remote store; a redirecting store) and any failure go to the app, so every answer that is
    not a plain 200 stays the routes' and their error handlers'. Installed by ``create_app`` as
    ``app.wsgi_app``, so every server and test client goes through it."""

    def __init__(self, app: WSGIApplication, registry: Registry) -> None:
        self._app = app
        self._registry = registry

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # A request with a body goes to the app, whose body limit refuses a huge one (413).
        bodyless = environ.get("CONTENT_LENGTH", "") in ("", "0") and "HTTP_TRANSFER_ENCODING" not in environ
        if environ.get("REQUEST_METHOD") == "GET" and bodyless:
            path: str = environ.get("PATH_INFO", "")
            answer = None
            if path.startswith(METADATA_PREFIX):
                answer = self._metadata(path[len(METADATA_PREFIX) :])
            elif path.startswith(TARGETS_PREFIX) and _plain(environ):
                answer = self._target(path[len(TARGETS_PREFIX) :], environ)
            if answer is not None:
                headers, body = answer
                start_response("200 OK", headers)
                return body
        return self._app(environ, start_response)

    def _metadata(self, name: str) -> Answer | None:
        if not self._registry.references(name):
            return None
        try:
            data, headers = metadata_answer(self._registry, name)
        except (EdzooError, OSError):
            return None  # the route answers it again, through the app's error handlers
        return headers, [data]

    def _target(self, path: str, environ: WSGIEnvironment) -> Answer | None:
        registry = self._registry
        if registry.config.redirect_blobs:
            return None
        try:
            sha256, signed = _signed_target(registry, path)
            key = blob_key(sha256)
            local = registry.objects.local_path(key)
            if local is not None:
                return local_target_answer(local, sha256, environ)
            data = registry.small_blob(key, signed.length)  # a large one streams through the route
            return None if data is None else (remote_target_headers(sha256, signed.length), [data])
        except (EdzooError, OSError):
            return None  # the route answers it again, through the app's error handlers


def _chunks(f: Any, size: int = 1 << 20) -> Iterator[bytes]:
    """Stream a store's file object in large chunks (iterating an S3 body yields 1 KiB ones)."""
    try:
        while chunk := f.read(size):
            yield chunk
    finally:
        f.close()
