"""The registry server: a Flask app factory with one blueprint per area.

``create_app({"EDZOO": ServerConfig(...)})`` builds an app on a data folder; ``edzoo serve``
runs it under gunicorn.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

from flask import Flask, Request, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from registry.core.errors import AuthError, EdzooError, UsageError, storage_error
from registry.core.units import format_bytes

from .config import ServerConfig
from .repository import Registry

__all__ = ["ServerConfig", "create_app"]


def create_app(config: dict[str, Any]) -> Flask:
    """Build the app. ``config["EDZOO"]`` is a :class:`ServerConfig`."""
    server_config: ServerConfig = config["EDZOO"]
    app = Flask(__name__, static_folder=None)  # the web catalog serves its own assets
    app.config.update(config)
    app.config["MAX_CONTENT_LENGTH"] = server_config.max_json_bytes
    app.request_class = BodyRequest
    app.json = StrictJSONProvider(app)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    registry = app.extensions["edzoo"] = Registry(server_config)
    stale = registry.objects.clean_scratch()
    if stale:
        app.logger.warning("removed %d scratch files left by interrupted uploads", stale)
    body_limits = {
        "api.put_blob": (server_config.max_upload_bytes, "EDZOO_MAX_UPLOAD_BYTES"),
        "api.publish": (server_config.max_publish_bytes, "EDZOO_MAX_PUBLISH_BYTES"),
    }

    @app.before_request
    def _limit_body() -> None:
        # Only blob uploads stream large bodies; every other route takes a small JSON body (or
        # none). Werkzeug stops reading a body of unknown length (chunked) at the limit; a
        # declared length over it is refused here, before a byte of the body is read.
        limit, setting = body_limits.get(request.endpoint or "", (server_config.max_json_bytes, "EDZOO_MAX_JSON_BYTES"))
        request.max_content_length = limit
        if (request.content_length or 0) > limit:
            raise RequestEntityTooLarge(
                f"the body ({format_bytes(request.content_length or 0)}) is larger than the "
                f"{format_bytes(limit)} this route "
                f"accepts ({setting} on the server sets it)"
            )

    from . import api, hf, openapi, tufroutes, web

    app.register_blueprint(api.bp)
    app.register_blueprint(tufroutes.bp)
    app.register_blueprint(hf.bp)  # the download side of the Hugging Face Hub protocol
    app.register_blueprint(openapi.bp)  # /api/v1/openapi.json
    app.register_blueprint(web.bp)  # the web catalog (HTML)
    app.wsgi_app = tufroutes.FastPath(app.wsgi_app, registry)  # type: ignore[method-assign]

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
        err = storage_error(e, "the registry's storage", then="nothing was published; retry when it is fixed")
        return jsonify(err.to_json()), err.http_status

    @app.errorhandler(Exception)
    def _internal_error(e: Exception):  # type: ignore[no-untyped-def]
        # A bug, not bad input: the traceback goes to the server's log, never into the response.
        # Registered for Exception, so it answers in TESTING (PROPAGATE_EXCEPTIONS) mode too.
        app.logger.error("internal error on %s %s", request.method, request.path, exc_info=e)
        body = {"error": "internal_error", "message": "the registry failed on this request; the error is logged there"}
        return jsonify(body), 500

    return app


# -- request bodies ----------------------------------------------------------------------------
MAX_JSON_DEPTH = 64  # signed roles, profiles and policies nest fewer than 10 levels


class StrictJSONProvider(DefaultJSONProvider):
    """The app's JSON: every request body is parsed here, and refused (UsageError, a 400) when
    it nests deeper than :data:`MAX_JSON_DEPTH` levels or holds a number that is not finite
    (``NaN``, ``Infinity``, ``1e400``). No route sees such a document, so none fails on one."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = json.loads(s, parse_constant=_not_a_number, parse_float=_finite_float, **kwargs)
        except RecursionError as e:
            raise UsageError(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels") from e
        _check_depth(value)
        return value


def _not_a_number(name: str) -> NoReturn:
    raise UsageError(f"the JSON body holds {name}: numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UsageError(f"the JSON body holds {text[:40]}, out of a double's range: numbers must be finite")
    return value


def _check_depth(value: Any) -> None:
    # Iterative: a document the parser accepted may still be too deep for recursive code.
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > MAX_JSON_DEPTH:
            raise UsageError(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


class BodyRequest(Request):
    """A request whose JSON errors are the registry's: a UsageError (400), or a 413 for a body
    of unknown length (chunked) that was cut at the route's limit."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:
            raise UsageError("expected a JSON body (Content-Type: application/json)")
        limit = self.max_content_length
        if self.content_length is None and limit is not None and len(self.get_data()) >= limit:
            # Werkzeug stops reading at the limit: what was read is not the whole body.
            raise RequestEntityTooLarge(f"the body is larger than the {format_bytes(limit)} this route accepts")
        if isinstance(e, UsageError):
            raise e
        raise UsageError(f"the body is not valid JSON: {e}") from e


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
