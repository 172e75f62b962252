"""The registry server: a Flask app factory with one blueprint per area.

``create_app({"EDZOO": ServerConfig(...)})`` builds an app on a data folder; ``edzoo serve``
runs it under gunicorn.
"""

from __future__ import annotations

import errno
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from registry.core.errors import EdzooError, StorageError

from .repository import Registry, ServerConfig

__all__ = ["ServerConfig", "create_app"]


def create_app(config: dict[str, Any]) -> Flask:
    """Build the app. ``config["EDZOO"]`` is a :class:`ServerConfig`."""
    server_config: ServerConfig = config["EDZOO"]
    app = Flask(__name__)
    app.config.update(config)
    app.config["MAX_CONTENT_LENGTH"] = server_config.max_upload_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["edzoo"] = Registry(server_config)

    from . import api, tufroutes

    app.register_blueprint(api.bp)
    app.register_blueprint(tufroutes.bp)

    @app.errorhandler(EdzooError)
    def _edzoo_error(e: EdzooError):  # type: ignore[no-untyped-def]
        return jsonify(e.to_json()), e.http_status

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):  # type: ignore[no-untyped-def]
        code = (e.name or "error").lower().replace(" ", "_")
        return jsonify({"error": code, "message": e.description or e.name}), e.code or 500

    @app.errorhandler(OSError)
    def _os_error(e: OSError):  # type: ignore[no-untyped-def]
        app.logger.exception("storage failure")
        if e.errno == errno.ENOSPC:
            err = StorageError(
                "the registry's disk is full; nothing was published. Retry when space is freed.", code="disk_full"
            )
        else:
            err = StorageError(f"storage failed: {e.strerror or e}; nothing was published")
        return jsonify(err.to_json()), err.http_status

    return app


def registry_of(app: Flask) -> Registry:
    return app.extensions["edzoo"]
