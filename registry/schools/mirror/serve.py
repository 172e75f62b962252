"""Serving www/ (the TUF tree as a registry serves it), the status endpoint and the freshness header."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from registry.client.download import ProgressFactory
from registry.client.http import ClientConfig
from registry.core.errors import (
    EdzooError,
    NotFoundError,
    UsageError,
)
from registry.core.tufnames import (
    IMMUTABLE,
    REVALIDATE,
    is_metadata_name,
    metadata_cache_control,
    split_target_path,
)
from registry.core.units import format_age

from ..catalog import Catalog
from .common import DEFAULT_INTERVAL, DEFAULT_PORT, STATUS_FILE, Log, stderr
from .loop import SyncLoop
from .results import SyncResult, describe_sync
from .status import describe_failure, has_copy, with_freshness
from .sync import sync


class _StatusFile:
    """mirror.json, re-read only when it changes (it is consulted on every request)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: tuple[int, int] | None = None
        self._doc: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def get(self) -> dict[str, Any] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if key != self._key:
                try:
                    doc = json.loads(self.path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    return self._doc
                self._key, self._doc = key, doc if isinstance(doc, dict) else None
            return self._doc


def _target_file(targets_dir: Path, path: str) -> tuple[Path, str] | None:
    """The file for ``<dir>/<sha256>.<name>`` under ``targets_dir``, or None for any other name
    (``..``, hidden files, absolute paths, links out of the folder)."""
    split = split_target_path(path)
    if split is None:
        return None
    file = targets_dir.joinpath(*path.split("/"))
    if not file.resolve().is_relative_to(targets_dir.resolve()) or not file.is_file():
        return None
    return file, split[1]


def create_mirror_app(data_dir: Path) -> Any:
    """The mirror's WSGI app (Flask) serving ``data_dir/www``.

    ``GET /tuf/metadata/<name>`` and ``GET /tuf/targets/<dir>/<sha256>.<file>`` as a registry
    serves them (``no-cache`` for the timestamp and roots, ``immutable`` for versioned files and
    targets; a file of a withdrawn version that mirror.json lists is 404 with the withdrawal);
    ``GET /mirror/status`` and ``GET /api/v1/health``: the status with ``age_seconds`` and
    ``fresh``; any other ``/api/v1/...`` is 404 JSON (a device then makes its own choice).
    Every response carries ``X-Edzoo-Mirror-Synced: <last success>``.
    """
    from flask import Flask

    data_dir = Path(data_dir)
    status = _StatusFile(data_dir / STATUS_FILE)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.merge_slashes = False  # "//x" is a bad name (404), not a redirect to another one
    _add_tuf_routes(app, data_dir / "www" / "tuf", status)
    _add_status_routes(app, status)
    _add_error_handlers(app, status)
    return app


def _add_tuf_routes(app: Any, tuf_dir: Path, status: _StatusFile) -> None:
    """``/tuf/metadata/<name>`` and ``/tuf/targets/<path>``, served from ``tuf_dir`` as a
    registry serves them; no file of a version mirror.json lists as withdrawn."""
    from flask import Response, send_file

    metadata_dir = tuf_dir / "metadata"
    targets_dir = tuf_dir / "targets"

    @app.get("/tuf/metadata/<name>")
    def metadata(name: str) -> Any:
        if not is_metadata_name(name):
            raise NotFoundError(f"no metadata file {name} on this mirror")
        try:
            data = (metadata_dir / name).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise NotFoundError(f"no metadata file {name} on this mirror") from e
        return Response(data, mimetype="application/json", headers={"Cache-Control": metadata_cache_control(name)})

    @app.get("/tuf/targets/<path:path>")
    def target(path: str) -> Any:
        for w in (status.get() or {}).get("withdrawn") or []:
            if isinstance(w, dict) and path.startswith(f"{w.get('model')}/{w.get('version')}/"):
                raise NotFoundError(
                    f"{path} is not served: {w.get('message')}; this mirror serves no file of a withdrawn version"
                )
        found = _target_file(targets_dir, path)
        if found is None:
            raise NotFoundError(f"no target {path} on this mirror (it holds the files its catalog needs)")
        file, sha256 = found
        response = send_file(file, mimetype="application/octet-stream", conditional=True, etag=sha256)
        response.headers["Cache-Control"] = IMMUTABLE
        return response


def _add_status_routes(app: Any, status: _StatusFile) -> None:
    """``/mirror/status`` and ``/api/v1/health`` (the status with its freshness); any other
    ``/api/v1/...`` is a 404 saying this is a mirror."""
    from flask import jsonify

    @app.get("/mirror/status")
    @app.get("/api/v1/health")
    def mirror_status() -> Any:
        doc = status.get()
        if doc is None:
            return jsonify({"error": "unavailable", "message": "this mirror has not synced yet"}), 503
        return jsonify(with_freshness(doc, datetime.now(UTC)))

    @app.route("/api/v1/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def api(rest: str) -> Any:
        upstream = (status.get() or {}).get("upstream") or "a registry"
        raise NotFoundError(
            f"this is a mirror of {upstream}: it serves the signed files under /tuf/ and /mirror/status, "
            f"not /api/v1/{rest}"
        )


def _add_error_handlers(app: Any, status: _StatusFile) -> None:
    """Errors as JSON, and on every response the last successful sync (``X-Edzoo-Mirror-Synced``)."""
    from flask import jsonify, request
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(EdzooError)
    def _edzoo_error(e: EdzooError) -> Any:
        return jsonify(e.to_json()), e.http_status

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Any:
        code = (e.name or "error").lower().replace(" ", "_")
        return jsonify({"error": code, "message": f"{e.description or e.name} ({request.path})"}), e.code or 500

    @app.after_request
    def _synced_header(response: Any) -> Any:
        response.headers["X-Edzoo-Mirror-Synced"] = (status.get() or {}).get("last_success") or "never"
        if response.status_code == 404:
            response.headers["Cache-Control"] = REVALIDATE
        return response


def run_mirror(
    upstream: str,
    catalog: Catalog | Path,
    data_dir: Path,
    *,
    root: bytes | Path | None = None,
    host: str = "0.0.0.0",
    port: int = DEFAULT_PORT,
    interval: float = DEFAULT_INTERVAL,
    once: bool = False,
    config: ClientConfig = ClientConfig(),
    access_log: bool = False,
    log: Log = stderr,
    progress: ProgressFactory | None = None,
) -> SyncResult | None:
    """Sync, then serve the mirror on ``host:port`` and re-sync every ``interval`` seconds.

    With ``once``, sync and return the result. When the first sync fails (the upstream is
    unreachable, or fails verification) and an earlier copy exists, a warning is logged and
    that copy is served; with no copy the error is raised, saying so. Runs until interrupted.

    Served by werkzeug's threaded WSGI server, in this process, rather than gunicorn: the
    re-sync thread and the server then share one process with no fork-after-threads hazard
    (gunicorn forks its workers from the process the thread would live in), and it runs where
    gunicorn does not (Windows laptops). It serves static files to one school's devices, where
    the school network is the limit; for more, serve ``www/`` with any web server (nginx) and
    run ``edzoo mirror --once`` from cron.
    """
    data_dir = Path(data_dir)
    if once:
        return sync(upstream, catalog, data_dir, root=root, config=config, interval=interval, progress=progress)
    result: SyncResult | None = None
    try:
        result = sync(upstream, catalog, data_dir, root=root, config=config, interval=interval, progress=progress)
        log(describe_sync(result))
    except UsageError:
        raise  # bad input: serving an old copy would hide it
    except EdzooError as e:
        if not has_copy(data_dir):
            raise type(e)(
                f"{e.message}; {data_dir} holds no earlier copy to serve, so the mirror cannot start: check the "
                "upstream URL, the network and the root, then run it again",
                code=e.code,
            ) from e
        log(f"warning: {describe_failure(data_dir, e.message)}")

    from werkzeug.serving import WSGIRequestHandler, make_server

    class _Handler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if access_log:
                super().log_request(code, size)

    try:
        server = make_server(host, port, create_mirror_app(data_dir), threaded=True, request_handler=_Handler)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}; choose another --port") from e
    loop = SyncLoop(upstream, catalog, data_dir, root=root, interval=interval, config=config, log=log)
    loop.start()
    bound = server.server_port
    where = (
        f"port {bound} of every interface (devices use http://<this machine's address>:{bound})"
        if host in ("0.0.0.0", "::")
        else f"http://{host}:{bound}"
    )
    log(
        f"edzoo mirror of {upstream.rstrip('/')} serving {data_dir / 'www'} on {where}; "
        f"re-sync every {format_age(interval)}; status at /mirror/status"
    )
    try:
        server.serve_forever()
    finally:
        loop.stop(timeout=5)
        server.server_close()
    return result
