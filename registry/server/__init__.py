"""The registry server: a Flask app factory with one blueprint per area.

``create_app({"EDZOO": ServerConfig(...)})`` builds an app on a data folder; ``edzoo serve``
runs it under gunicorn.
"""

from __future__ import annotations

import errno
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from registry.core.errors import AuthError, EdzooError, StorageError

from .repository import Registry, ServerConfig

__all__ = ["ServerConfig", "create_app"]


def create_app(config: dict[str, Any]) -> Flask:
    """Build the app. ``config["EDZOO"]`` is a :class:`ServerConfig`."""
    server_config: ServerConfig = config["EDZOO"]
    app = Flask(__name__, static_folder=None)  # the web catalog serves its own assets
    app.config.update(config)
    app.config["MAX_CONTENT_LENGTH"] = server_config.max_upload_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["edzoo"] = Registry(server_config)

    from . import api, hfroutes, openapi, tufroutes, web

    app.register_blueprint(api.bp)
    app.register_blueprint(tufroutes.bp)
    app.register_blueprint(hfroutes.bp)  # the download side of the Hugging Face Hub protocol
    app.register_blueprint(openapi.bp)  # /api/v1/openapi.json
    app.register_blueprint(web.bp)  # the web catalog (HTML)

    @app.errorhandler(EdzooError)
    def _edzoo_error(e: EdzooError):  # type: ignore[no-untyped-def]
        response = jsonify(e.to_json())
        response.status_code = e.http_status
        if isinstance(e, AuthError):
            response.headers["WWW-Authenticate"] = 'Bearer realm="edzoo"'
        return response

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):  # type: ignore[no-untyped-def]
        if e.response is not None:  # a response the view built itself
            return e.response
        status = e.code or 500
        response = jsonify({"error": http_error_code(status), "message": e.description or e.name})
        response.status_code = status
        for name, value in e.get_headers():  # Allow on a 405, Content-Range on a 416, ...
            if name.lower() not in {"content-type", "content-length"}:
                response.headers[name] = value
        return response

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

    @app.errorhandler(Exception)
    def _internal_error(e: Exception):  # type: ignore[no-untyped-def]
        # A bug, not bad input: the traceback goes to the server's log, never into the response.
        # Registered for Exception, so it answers in TESTING (PROPAGATE_EXCEPTIONS) mode too.
        app.logger.error("internal error on %s %s", request.method, request.path, exc_info=e)
        body = {"error": "internal_error", "message": "the registry failed on this request; the error is logged there"}
        return jsonify(body), 500

    return app


# Stable codes of the HTTP errors the protocol layer raises (routing, body limits, ranges); the
# OpenAPI contract's ErrorCode enum lists them. Any other status gets its class's code.
HTTP_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    411: "length_required",
    412: "precondition_failed",
    413: "request_entity_too_large",
    414: "request_uri_too_large",
    415: "unsupported_media_type",
    416: "requested_range_not_satisfiable",
    422: "unprocessable_entity",
    429: "too_many_requests",
    431: "request_header_fields_too_large",
    501: "not_implemented",
    503: "unavailable",
}


def http_error_code(status: int) -> str:
    """The ``error`` code of an HTTP error of the protocol layer."""
    return HTTP_ERROR_CODES.get(status) or ("bad_request" if status < 500 else "internal_error")


def registry_of(app: Flask) -> Registry:
    return app.extensions["edzoo"]
