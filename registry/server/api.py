"""JSON API under ``/api/v1``: search and browse, blob upload, publish, log, health."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from registry.core import names, trust
from registry.core.errors import AuthError, EdzooError, ManifestError, NotFoundError, UsageError
from registry.storage.objects import blob_key, ingest

from . import registry_of
from .repository import Registry

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _registry() -> Registry:
    return registry_of(current_app)


def _namespace_from_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("an upload token is required: send 'Authorization: Bearer <token>'")
    namespace = _registry().namespace_for_token(token.strip())
    if namespace is None:
        raise AuthError("unknown upload token")
    return namespace


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise UsageError(f"query parameter {name!r} must be an integer, got {raw!r}") from e
    if not lo <= value <= hi:
        raise UsageError(f"query parameter {name!r} must be between {lo} and {hi}")
    return value


def _text_arg(name: str) -> str | None:
    """A free-text query parameter; control characters (NUL above all, which databases
    truncate at or refuse) are refused."""
    raw = request.args.get(name)
    if raw is not None and _CONTROL_RE.search(raw):
        raise UsageError(f"query parameter {name!r} must not contain control characters")
    return raw


def _json_body(expected: str) -> dict[str, Any]:
    """The request's JSON object; a body that is not JSON or not an object is a UsageError
    quoting ``expected`` (the app's JSON provider refuses deep and non-finite documents)."""
    if not request.is_json:
        raise UsageError(f"expected a JSON body {expected} (Content-Type: application/json)")
    body = request.get_json()
    if not isinstance(body, dict):
        raise UsageError(f"expected a JSON body {expected}")
    return body


@bp.get("/health")
def health() -> Any:
    # 503 once anything served has expired, so a load balancer or a monitor that reads only the
    # status code sees it; ok and degraded (something expires soon) are both serving.
    doc = _registry().health()
    return jsonify(doc), (503 if doc["status"] == "failing" else 200)


@bp.get("/models")
def list_models() -> Any:
    limit = _int_arg("limit", 50, 1, 500)
    offset = _int_arg("offset", 0, 0, 10**9)
    namespace = request.args.get("namespace")
    if namespace:
        names.check_namespace(namespace)
    total, models = _registry().index.search(
        _text_arg("q"),
        namespace=namespace,
        task=_text_arg("task"),
        subject=_text_arg("subject"),
        grade=_text_arg("grade"),
        limit=limit,
        offset=offset,
    )
    return jsonify({"total": total, "limit": limit, "offset": offset, "models": [m.to_json() for m in models]})


@bp.get("/models/<namespace>/<name>")
def get_model(namespace: str, name: str) -> Any:
    names.check_namespace(namespace)
    names.check_name(name, "model name")
    return jsonify(_registry().index.model(namespace, name).to_json())


@bp.get("/models/<namespace>/<name>/versions/<version>")
def get_version(namespace: str, name: str, version: str) -> Any:
    names.check_namespace(namespace)
    names.check_name(name, "model name")
    names.check_version(version)
    return jsonify(_registry().index.version(namespace, name, version).to_json())


@bp.get("/models/<namespace>/<name>/versions/<version>/variants")
def get_variants(namespace: str, name: str, version: str) -> Any:
    doc = get_version(namespace, name, version).get_json()
    return jsonify({"model": doc["model"], "version": doc["version"], "variants": doc["variants"]})


@bp.route("/models/<namespace>/<name>/resolve", methods=["GET", "POST"])
def resolve(namespace: str, name: str) -> Any:
    """Suggest a variant for a device: ``?device=<reference id>&policy=<preset>&version=`` or a
    POST of ``{"profile": {...} | "device": id, "policy": {...} | preset, "version": ...}``.
    Clients recompute the choice from the signed manifest; this is a suggestion."""
    from registry.core import profiles, select

    names.check_namespace(namespace)
    names.check_name(name, "model name")
    if request.method == "POST":
        body = _json_body('{"profile": {...} | "device": "<id>", "policy": ..., "version": ...}')
    else:
        body = {k: request.args[k] for k in ("device", "policy", "version") if k in request.args}
    if "profile" in body:
        if not isinstance(body["profile"], dict):
            raise UsageError("'profile' must be a device profile object")
        profile = profiles.load_profile(body["profile"])
    elif isinstance(body.get("device"), str):
        # A reference profile id only: load_profile also reads paths, which are the server's files.
        profile = profiles.load_profile(names.check_name(body["device"], "reference device id"))
    else:
        raise UsageError("name a reference device (device=<id>) or send a profile document")
    version = body.get("version")
    if version is not None and not isinstance(version, str):
        raise UsageError("'version' must be a version string like 1.2.0")
    try:
        policy_in = body.get("policy")
        if policy_in is None:
            policy_name, policy, why = select.policy_for_device(profile)
        elif isinstance(policy_in, str):
            if policy_in not in select.POLICIES:
                raise UsageError(f"unknown policy {policy_in!r}; presets: {', '.join(select.POLICIES)}")
            policy_name, policy, why = policy_in, select.POLICIES[policy_in], "asked for"
        else:
            policy_name, policy, why = "custom", select.Policy.from_dict(policy_in), "asked for"
        index = _registry().index
        version = version or index.latest(namespace, name)
        if not isinstance(version, str):
            raise NotFoundError(f"{namespace}/{name} has no published version")
        names.check_version(version)
        doc = index.manifest(namespace, name, version)
        choice = select.select(doc, profile, policy)
    except EdzooError:
        raise
    except (ArithmeticError, ValueError) as e:
        # Figures a schema allows but arithmetic cannot use (1e308 cores, a 400-digit budget).
        current_app.logger.warning("resolve %s/%s: cannot compute a choice: %r", namespace, name, e)
        raise ManifestError(
            "cannot choose a variant: the device profile or policy holds numbers out of any realistic range"
        ) from e
    return jsonify(
        {
            "model": f"{namespace}/{name}",
            "version": version,
            "device": profile.get("id"),
            "policy": {"name": policy_name, "why": why, **policy.to_dict()},
            **choice.to_json(),
        }
    )


@bp.route("/blobs/sha256/<digest>", methods=["HEAD"])
def head_blob(digest: str) -> Any:
    size = _registry().objects.size(blob_key(digest))
    if size is None:
        raise NotFoundError(f"no blob {digest}")
    return Response(status=200, headers={"Content-Length": str(size)})


@bp.put("/blobs/sha256/<digest>")
def put_blob(digest: str) -> Any:
    key = blob_key(digest)  # validates the digest before reading a byte
    _namespace_from_token()
    length = request.content_length
    if length is None:
        raise UsageError("Content-Length is required for blob uploads", code="length_required")
    if length <= 0:
        raise UsageError("empty blobs are not stored")
    created = ingest(_registry().objects, request.stream, sha256=digest, length=length)
    return jsonify({"sha256": digest, "size": length, "created": created, "key": key}), (201 if created else 200)


@bp.get("/roles/<name>")
def get_role(name: str) -> Any:
    """The current bytes of a delegated role (publishers update their roles from these)."""
    if name in {"root", "snapshot", "timestamp"}:
        raise NotFoundError(f"{name} is served under /tuf/metadata/")
    found = _registry().role(name)
    if found is None:
        raise NotFoundError(f"no role {name}")
    return Response(found[1], mimetype="application/json")


@bp.get("/token")
def token_info() -> Any:
    """Which namespace the caller's upload token may publish to (401 when it may not)."""
    return jsonify({"namespace": _namespace_from_token()})


@bp.post("/publish")
def publish() -> Any:
    namespace = _namespace_from_token()
    expected = '{"roles": {"<role name>": <signed TUF metadata>}}'
    body = _json_body(expected)
    if not isinstance(body.get("roles"), dict):
        raise UsageError(f"expected a JSON body {expected}")
    submitted: dict[str, bytes] = {}
    for role, md in body["roles"].items():
        if not isinstance(md, dict):
            raise UsageError(f"role {role!r}: expected a JSON object")
        submitted[role] = trust.to_bytes(trust.parse_metadata(json.dumps(md).encode(), role))
    result = _registry().publish(namespace, submitted)
    return jsonify(result), (201 if result["status"] == "published" else 200)


@bp.get("/log")
def publish_log() -> Any:
    namespace = request.args.get("namespace")
    if namespace:
        names.check_namespace(namespace)
    entries = _registry().index.log(
        namespace=namespace, limit=_int_arg("limit", 100, 1, 1000), after=_int_arg("after", 0, 0, 2**62)
    )
    return jsonify({"entries": [e.to_json() for e in entries]})


@bp.get("/publishers")
def publishers() -> Any:
    return jsonify({"publishers": [p.to_json() for p in _registry().index.publishers()]})
