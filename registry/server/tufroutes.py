"""TUF repository routes for the updater: metadata and consistent-snapshot targets.

A cold pull asks for the timestamp and for about six versioned files that its snapshot
references, each a small answer the registry holds, so :class:`MetadataFastPath` answers them
before Flask builds a request context (as a WSGI static-file middleware serves files ahead of
its framework); everything else goes on to the :func:`metadata` route, which owns every error
answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, redirect, send_file

from registry.core.errors import EdzooError, NotFoundError
from registry.core.tufnames import IMMUTABLE, REVALIDATE, metadata_cache_control, split_target_path
from registry.storage.objects import blob_key

from . import registry_of

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .repository import Registry

bp = Blueprint("tuf", __name__, url_prefix="/tuf")


@bp.after_request
def _not_found_revalidates(response: Response) -> Response:
    if response.status_code == 404:  # a probe for the next root must not be cached as missing
        response.headers["Cache-Control"] = REVALIDATE
    return response


METADATA_PREFIX = "/tuf/metadata/"


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


class MetadataFastPath:
    """WSGI middleware around the app: a ``GET /tuf/metadata/<name>`` of the timestamp or of a
    file its snapshot references gets :func:`metadata_answer` directly. Any other request (a
    root file, among them the updater's probe for the next root) and any failure go to the app,
    so every answer that is not a plain 200 stays the route's and its error handlers'. Installed by ``create_app``
    as ``app.wsgi_app``, so every server and test client goes through it."""

    def __init__(self, app: WSGIApplication, registry: Registry) -> None:
        self._app = app
        self._registry = registry

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "GET" and path.startswith(METADATA_PREFIX):
            name = path[len(METADATA_PREFIX) :]
            if self._registry.references(name):
                try:
                    data, headers = metadata_answer(self._registry, name)
                except (EdzooError, OSError):
                    pass  # the route answers it again, through the app's error handlers
                else:
                    start_response("200 OK", headers)
                    return [data]
        return self._app(environ, start_response)


# merge_slashes=False: a path with "//" is no target (404), not a redirect to another path.
@bp.get("/targets/<path:path>", merge_slashes=False)
def target(path: str) -> Any:
    # Consistent snapshots name a target file <sha256>.<name>; the bytes are the blob. Only a
    # blob that the signed metadata lists under that path is served: an upload token lets its
    # holder store blobs, not publish them under any name.
    split = split_target_path(path)
    if split is None:
        raise NotFoundError(f"no target {path}: expected <folder>/<sha256>.<file name>")
    folder, sha256, name = split
    registry = registry_of(current_app)
    signed = registry.served_target(folder + name, sha256)
    if signed is None or signed.hashes.get("sha256") != sha256:
        raise NotFoundError(
            f"no target {path}: the registry's signed metadata lists no {folder}{name} with sha256 {sha256[:12]}…; "
            "only signed targets are served"
        )
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
        headers = {"Content-Length": str(signed.length), "ETag": f'"{sha256}"', "Cache-Control": IMMUTABLE}
        data = registry.small_blob(key, signed.length)
        body = data if data is not None else _chunks(objects.open(key))
        return Response(body, mimetype="application/octet-stream", headers=headers)
    response = send_file(local, mimetype="application/octet-stream", conditional=True, etag=sha256)
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def _chunks(f: Any, size: int = 1 << 20) -> Iterator[bytes]:
    """Stream a store's file object in large chunks (iterating an S3 body yields 1 KiB ones)."""
    try:
        while chunk := f.read(size):
            yield chunk
    finally:
        f.close()
