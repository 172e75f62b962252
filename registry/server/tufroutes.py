"""TUF repository routes for the updater: metadata and consistent-snapshot targets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, redirect, send_file

from registry.core.errors import NotFoundError
from registry.core.tufnames import IMMUTABLE, REVALIDATE, metadata_cache_control, split_target_path
from registry.storage.objects import blob_key

from . import registry_of

bp = Blueprint("tuf", __name__, url_prefix="/tuf")


@bp.after_request
def _not_found_revalidates(response: Response) -> Response:
    if response.status_code == 404:  # a probe for the next root must not be cached as missing
        response.headers["Cache-Control"] = REVALIDATE
    return response


@bp.get("/metadata/<name>")
def metadata(name: str) -> Any:
    data = registry_of(current_app).metadata_file(name)
    return Response(data, mimetype="application/json", headers={"Cache-Control": metadata_cache_control(name)})


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
