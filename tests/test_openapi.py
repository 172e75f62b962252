"""The OpenAPI contract (``/api/v1/openapi.json``): it documents every JSON route and nothing
else, its error codes are the ones the code emits and the client maps, schemathesis finds no
server error and no response that breaks it, and no error answer carries a stack trace."""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import urllib3
from builders import make_realistic_build_dir
from openapi_spec_validator import validate

from registry.core import errors, names
from registry.server import HTTP_ERROR_CODES, ServerConfig, create_app, http_error_code, openapi

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "registry"
SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]  # the CLI of the pinned schemathesis (the [dev] extra)
# Routes that are not JSON and not in the contract: the HTML catalog and static files.
NOT_JSON_BLUEPRINTS = frozenset({"web", "static"})
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _get(url: str, **kw: Any) -> urllib3.BaseHTTPResponse:
    return urllib3.request("GET", url, retries=False, **kw)


def _served_document(env) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = _get(f"{env.url}/api/v1/openapi.json")
    assert r.status == 200 and r.headers["Content-Type"] == "application/json"
    return r.json()


# -- the document ----------------------------------------------------------------------------------
def test_served_document_is_valid_openapi_3_1_with_every_reference_resolved(env) -> None:  # type: ignore[no-untyped-def]
    doc = _served_document(env)
    assert doc["openapi"].startswith("3.1.")
    assert doc == openapi.document()
    validate(doc)

    def resolve(pointer: str) -> Any:
        node: Any = doc
        for part in pointer.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            target = node.get("$ref")
            if isinstance(target, str):
                assert target.startswith("#/"), f"{where}: only local references, got {target}"
                try:
                    resolve(target)
                except (KeyError, TypeError):
                    pytest.fail(f"{where}: {target} does not resolve")
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")

    walk(doc, "#")


def _openapi_path(rule: str) -> str:
    """``/models/<namespace>/<path:file>`` -> ``/models/{namespace}/{file}``."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def _routes(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(OpenAPI path, method) of every JSON route; HEAD only where a view declares it."""
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in NOT_JSON_BLUEPRINTS:
            continue
        methods = set(rule.methods or ()) - {"OPTIONS"}
        if "GET" in methods:
            methods.discard("HEAD")  # Flask answers HEAD for every GET route by itself
        out |= {(_openapi_path(rule.rule), m.lower()) for m in methods}
    return out


def test_every_route_is_documented_and_every_documented_operation_is_routed(env) -> None:  # type: ignore[no-untyped-def]
    doc = _served_document(env)
    documented = {(path, m) for path, item in doc["paths"].items() for m in item if m in METHODS}
    routes = _routes(env.app)
    assert routes, "no routes found"
    assert not routes - documented, f"routes missing from the contract: {sorted(routes - documented)}"
    served = routes | {(path, "head") for path, m in routes if m == "get"}  # Flask answers HEAD for a GET
    assert not documented - served, f"documented but not served: {sorted(documented - served)}"


def test_the_core_api_is_in_openapi_json_itself() -> None:
    """openapi.json covers /api/v1 and /tuf; fragments cover only their own areas."""
    core = json.loads(openapi.CONTRACT.read_text())
    app_paths = {p for p in core["paths"]}
    assert {p for p in app_paths if not p.startswith(("/api/v1/", "/tuf/"))} == set()
    for fragment in sorted(openapi.HERE.glob(openapi.FRAGMENT_GLOB)):
        frag = json.loads(fragment.read_text())
        overlap = {p for p in frag.get("paths", {}) if p.startswith(("/api/v1/", "/tuf/"))}
        assert not overlap, f"{fragment.name} documents core paths {sorted(overlap)}"


def test_data_contract_schemas_are_in_step_with_manifests_schema() -> None:
    schemas = json.loads(openapi.CONTRACT.read_text())["components"]["schemas"]
    fresh = openapi.contract_schemas()
    stale = sorted(k for k, v in fresh.items() if schemas.get(k) != v)
    assert not stale, f"out of step with manifests/schema: {stale}; run `python -m registry.server.openapi`"
    prefixes = tuple(f"{c}_" for c in openapi.DATA_CONTRACTS)
    leftovers = sorted(k for k in schemas if k.startswith(prefixes) and k not in fresh)
    assert not leftovers, f"definitions no longer in manifests/schema: {leftovers}"


def test_merge_adds_fragments_and_refuses_clashes() -> None:
    base = {
        "paths": {"/a": {"get": {"operationId": "a"}}},
        "components": {"schemas": {"X": {"type": "string"}}},
        "tags": [{"name": "t"}],
    }
    fragment = {
        "paths": {"/a": {"head": {"operationId": "headA"}}, "/b": {"get": {"operationId": "b"}}},
        "components": {"schemas": {"X": {"type": "string"}, "Y": {"type": "integer"}}},
        "tags": [{"name": "t"}, {"name": "u"}],
    }
    merged = openapi.merge(json.loads(json.dumps(base)), fragment, source="f.json")
    assert set(merged["paths"]["/a"]) == {"get", "head"} and "/b" in merged["paths"]
    assert set(merged["components"]["schemas"]) == {"X", "Y"}
    assert [t["name"] for t in merged["tags"]] == ["t", "u"]
    with pytest.raises(RuntimeError, match="GET /a is already documented"):
        openapi.merge(json.loads(json.dumps(base)), {"paths": {"/a": {"get": {}}}}, source="f.json")
    with pytest.raises(RuntimeError, match="components.schemas.X differs"):
        openapi.merge(json.loads(json.dumps(base)), {"components": {"schemas": {"X": {}}}}, source="f.json")
    with pytest.raises(RuntimeError, match="only paths, components and tags"):
        openapi.merge(json.loads(json.dumps(base)), {"info": {}}, source="f.json")


# -- error codes ---------------------------------------------------------------------------------
def _emitted_codes() -> dict[str, str]:
    """Every error code the package can put in an error body: class ``code = "..."``,
    ``code="..."`` arguments, ``{"error": "..."}`` literals, and the HTTP protocol's codes.
    Returns code -> where it was found."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(REPO).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if (
                        isinstance(stmt, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == "code" for t in stmt.targets)
                        and isinstance(stmt.value, ast.Constant)
                        and isinstance(stmt.value.value, str)
                    ):
                        found.setdefault(stmt.value.value, f"{where}:{stmt.lineno}")
            elif isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "code" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                        found.setdefault(kw.value.value, f"{where}:{node.lineno}")
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "error"
                        and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                    ):
                        found.setdefault(value.value, f"{where}:{node.lineno}")
    for status in range(400, 600):
        found.setdefault(http_error_code(status), f"registry/server/__init__.py http_error_code({status})")
    return found


def _enum() -> list[str]:
    return json.loads(openapi.CONTRACT.read_text())["components"]["schemas"]["ErrorCode"]["enum"]


def test_error_code_enum_is_exactly_what_the_code_emits() -> None:
    emitted = _emitted_codes()
    enum = _enum()
    assert len(enum) == len(set(enum))
    missing = {code: where for code, where in emitted.items() if code not in enum}
    assert not missing, f"codes emitted but not in the contract's ErrorCode enum: {missing}"
    stale = sorted(set(enum) - set(emitted))
    assert not stale, f"codes in the ErrorCode enum that nothing emits: {stale}"
    assert set(HTTP_ERROR_CODES.values()) <= set(enum)


def test_the_client_maps_every_code_to_its_exception() -> None:
    from registry.client import http

    enum = set(_enum())
    assert set(http._CODE_ERRORS) == enum, sorted(enum ^ set(http._CODE_ERRORS))
    for cls in vars(errors).values():  # each class's own code raises that class in the client
        if isinstance(cls, type) and issubclass(cls, errors.EdzooError) and cls is not errors.EdzooError:
            # a refinement that keeps its parent's code (UntrustedMetadataError is a SignatureError
            # on the wire) comes back as the parent
            owner = next(c for c in cls.__mro__ if "code" in vars(c))
            assert http._CODE_ERRORS[cls.code] is owner, cls

    class Answer:
        def __init__(self, status: int, body: bytes) -> None:
            self.status, self.data = status, body

    def error(status: int, code: str | None) -> errors.EdzooError:
        body = json.dumps({"error": code, "message": "m"}).encode() if code else b"<html>proxy</html>"
        return http._error_from(Answer(status, body), "GET /x")  # type: ignore[arg-type]

    for code in sorted(enum):
        e = error(400, code)
        assert type(e) is http._CODE_ERRORS[code] and e.code == code and "(400 " + code + "): m" in e.message
    cases = [
        (409, "stale_role", errors.ConflictError),
        (400, "hash_mismatch", errors.UsageError),
        (400, "length_mismatch", errors.UsageError),
        (503, "unavailable", errors.UnavailableError),
        (507, "disk_full", errors.StorageError),
        (403, "verification_failed", errors.SignatureError),
        (404, "not_found", errors.NotFoundError),
        (401, "unauthorized", errors.AuthError),
        (422, "no_compatible_variant", errors.NoCompatibleVariantError),
        (500, "internal_error", errors.DownloadError),
        # unknown codes and bodies that are not the API's fall back to the status
        (404, "EntryNotFound", errors.NotFoundError),
        (503, None, errors.UnavailableError),
        (502, None, errors.DownloadError),
        (403, None, errors.SignatureError),
    ]
    for status, code, cls in cases:
        assert type(error(status, code)) is cls, (status, code)


# -- errors that never leak --------------------------------------------------------------------------
def _assert_clean_error(r: urllib3.BaseHTTPResponse | Any, status: int, code: str) -> dict[str, Any]:
    data = r.get_data() if hasattr(r, "get_data") else r.data  # a test client's answer, or urllib3's
    got = r.status_code if hasattr(r, "status_code") else r.status
    assert got == status, data
    assert r.headers["Content-Type"] == "application/json", data
    doc = json.loads(data)
    assert set(doc) == {"error", "message"} and doc["error"] == code, doc
    for leak in ("Traceback", 'File "', "secret-sauce", "RuntimeError", "ZeroDivisionError"):
        assert leak not in doc["message"], doc
    return doc


def test_a_failing_registry_answers_json_and_logs_the_traceback(env, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    registry = env.app.extensions["edzoo"]

    def broken() -> dict[str, Any]:
        raise ZeroDivisionError("secret-sauce at /srv/edzoo/keys")

    monkeypatch.setattr(registry, "health", broken)
    with caplog.at_level(logging.ERROR, logger=env.app.logger.name):
        r = _get(f"{env.url}/api/v1/health")
    _assert_clean_error(r, 500, "internal_error")
    logged = [rec for rec in caplog.records if rec.exc_info and rec.exc_info[0] is ZeroDivisionError]
    assert logged and "GET /api/v1/health" in logged[0].getMessage()


@pytest.mark.parametrize("propagate", [True, False], ids=["testing-propagates", "production"])
def test_an_unhandled_exception_is_a_json_500_in_either_mode(env, propagate, caplog) -> None:  # type: ignore[no-untyped-def]
    """TESTING turns PROPAGATE_EXCEPTIONS on, which skips a 500 handler: the app's catch-all
    is registered for Exception, so both modes answer the same JSON."""
    app = create_app({"EDZOO": ServerConfig(data_dir=env.data), "TESTING": propagate})

    @app.get("/api/v1/boom")
    def boom() -> Any:
        raise RuntimeError("secret-sauce: password=hunter2")

    try:
        with caplog.at_level(logging.ERROR, logger=app.logger.name):
            r = app.test_client().get("/api/v1/boom")
        doc = _assert_clean_error(r, 500, "internal_error")
        assert "hunter2" not in doc["message"]
        assert any(rec.exc_info and rec.exc_info[0] is RuntimeError for rec in caplog.records)
    finally:
        app.extensions["edzoo"].close()


def test_protocol_errors_are_json_with_their_headers(env) -> None:  # type: ignore[no-untyped-def]
    r = urllib3.request("DELETE", f"{env.url}/api/v1/models", retries=False)
    _assert_clean_error(r, 405, "method_not_allowed")
    assert set(r.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
    r = urllib3.request("PUT", f"{env.url}/api/v1/blobs/sha256/{'a' * 64}", body=b"x", retries=False)
    _assert_clean_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    _assert_clean_error(_get(f"{env.url}/api/v1/nothing/here"), 404, "not_found")


def test_resolve_never_reads_a_server_file(env) -> None:  # type: ignore[no-untyped-def]
    """device= names a reference profile; a path (which load_profile would read) is refused
    before any file is opened, so no file's existence or content shows in the answer."""
    secret = env.tmp / "secret.json"
    secret.write_text(json.dumps({"api_key": "hunter2"}))
    reference = REPO / "manifests" / "devices" / "teacher-laptop.json"
    base = f"{env.url}/api/v1/models/acme/reader/resolve"
    for device in (str(secret), str(env.tmp / "missing.json"), str(reference), "../../etc/passwd", "a.json"):
        for r in (
            urllib3.request("GET", base, fields={"device": device}, retries=False),
            urllib3.request("POST", base, json={"device": device}, retries=False),
        ):
            doc = _assert_clean_error(r, 400, "bad_request")
            assert "reference device id" in doc["message"]
            assert "hunter2" not in doc["message"] and "api_key" not in doc["message"]


def test_inputs_that_break_parsers_or_arithmetic_are_4xx(env) -> None:  # type: ignore[no-untyped-def]
    env.publish(make_realistic_build_dir(env.tmp / "letters", "acme", "letters", "1.0.0"))
    resolve = f"{env.url}/api/v1/models/acme/letters/resolve"
    auth = {"Authorization": f"Bearer {env.token}", "Content-Type": "application/json"}
    deep = b"[" * 100_000 + b"]" * 100_000
    for url, headers in ((resolve, {"Content-Type": "application/json"}), (f"{env.url}/api/v1/publish", auth)):
        _assert_clean_error(urllib3.request("POST", url, body=deep, headers=headers, retries=False), 400, "bad_request")
    laptop = json.loads((REPO / "manifests" / "devices" / "teacher-laptop.json").read_text())
    huge = [
        {"device": "teacher-laptop", "policy": {"latency_budget_us": 10**400}},  # too big for a float
        {"profile": {**laptop, "cpu": {**laptop["cpu"], "speed_factor": 1.7e308}}},  # inf / inf
        {"profile": {**laptop, "ram_mb": 10**400, "free_storage_mb": 10**400}},
    ]
    for body in huge:
        r = urllib3.request("POST", resolve, body=json.dumps(body).encode(), headers=auth, retries=False)
        assert r.status in (400, 422), r.data
        _assert_clean_error(r, r.status, r.json()["error"])
    r = urllib3.request("POST", resolve, json={"device": "teacher-laptop", "version": 1}, retries=False)
    _assert_clean_error(r, 400, "bad_request")
    for param in ("q", "task", "subject", "grade"):
        r = _get(f"{env.url}/api/v1/models", fields={param: "a\x00b"})
        _assert_clean_error(r, 400, "bad_request")


# -- schemathesis against a live server -------------------------------------------------------------
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "missing_required_header",
    "ignored_auth",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
)
# Which operations each run tests: the core contract (openapi.json), and the fragments.
AREAS = {
    "core": ("--include-path-regex", r"^/(api/v1|tuf)/"),
    "fragments": ("--exclude-path-regex", r"^/(api/v1|tuf)/"),
}


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _schemathesis_config(env, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Checks, a fixed seed and bounded examples, the upload token, and real values for path
    parameters (mixed with generated ones) so tests reach past 404s."""
    version = _get(f"{env.url}/api/v1/models/acme/reader/versions/1.0.0").json()
    digests = sorted({f["sha256"] for f in version["files"].values()})
    targets = []
    for file, info in sorted(version["files"].items()):
        folder, _, base = names.target_path("acme", "reader", "1.0.0", file).rpartition("/")
        targets.append(f"{folder}/{info['sha256']}.{base}")
    tuf = env.data / "objects" / "tuf"
    metadata = sorted(p.name for p in tuf.glob("*.json"))
    roles = sorted({p.name.split(".", 1)[1].removesuffix(".json") for p in tuf.glob("[0-9]*.json")})
    dictionaries = {
        "namespaces": ["acme"],
        "models": ["reader", "letters"],
        "versions": ["1.0.0"],
        "revisions": ["1.0.0", "main"],
        "digests": digests,
        "targets": targets,
        "metadata": metadata,
        "roles": roles,
    }

    def bind(**params: str) -> str:
        return ", ".join(f'"path.{p}" = {{ dictionary = "{d}", probability = 0.6 }}' for p, d in params.items())

    operations = [
        ('include-path-regex = "^/api/v1/models/"', bind(namespace="namespaces", name="models", version="versions")),
        ('include-path-regex = "^/api/v1/blobs/"', bind(digest="digests")),
        ('include-operation-id = "getRole"', bind(name="roles")),
        ('include-operation-id = "tufMetadata"', bind(name="metadata")),
        ('include-operation-id = "tufTarget"', bind(path="targets")),
        # the Hugging Face routes' fragment
        (
            'include-path-regex = "^/(api/models/)?[{]namespace[}]/[{]name[}]"',
            bind(namespace="namespaces", name="models", revision="revisions"),
        ),
    ]
    lines = [
        f"seed = {int(os.environ.get('EDZOO_SCHEMATHESIS_SEED', '20260101'))}",  # another seed explores further
        "[cache]",
        "enabled = false",
        "[generation]",
        "max-examples = 20",
        'database = "none"',
        "[checks]",
        *(f"{c}.enabled = true" for c in CHECKS),
        "[auth.openapi.bearerAuth]",
        f'bearer = "{env.token}"',
    ]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {_toml_list(values)}"]
    for selector, params in operations:
        lines += ["[[operations]]", selector, f"parameters = {{ {params} }}"]
    lines += [
        # A schema cannot say "signed by the namespace's key" or "bytes whose sha256 is the
        # digest": schema-valid publishes and uploads are rightly refused.
        "[[operations]]",
        'include-operation-id = ["publish", "putBlob"]',
        "checks.positive_data_acceptance.enabled = false",
        # A valid profile and policy may leave no variant that runs (422 no_compatible_variant).
        "[[operations]]",
        'include-operation-id = "resolveForProfile"',
        'checks.positive_data_acceptance.expected-statuses = ["2xx", 404, 422]',
    ]
    path.write_text("\n".join(lines) + "\n")


def _stored(data: Path) -> dict[str, bytes]:
    objects = data / "objects"
    return {
        p.relative_to(objects).as_posix(): p.read_bytes()
        for p in objects.rglob("*")
        if p.is_file() and ".tmp" not in p.relative_to(objects).parts
    }


@pytest.mark.slow
@pytest.mark.parametrize("area", sorted(AREAS))
def test_schemathesis_finds_no_server_error_and_no_schema_violation(env, area) -> None:  # type: ignore[no-untyped-def]
    if area == "fragments" and not any(openapi.HERE.glob(openapi.FRAGMENT_GLOB)):
        pytest.skip("no openapi_*.json fragment beside openapi.json")
    flag, regex = AREAS[area]
    env.publish(env.build("reader", "1.0.0"))
    env.publish(make_realistic_build_dir(env.tmp / "letters", "acme", "letters", "1.0.0"))
    before = {k: v for k, v in _stored(env.data).items() if k != "tuf/timestamp.json"}
    work = env.tmp / f"schemathesis-{area}"
    work.mkdir()
    config = work / "schemathesis.toml"
    _schemathesis_config(env, config)
    argv = [*SCHEMATHESIS, "--config-file", str(config), "--no-color", "run", f"{env.url}/api/v1/openapi.json"]
    # One worker: with several, hypothesis parses lambdas' source in threads, which CPython 3.11's
    # ast module does not survive ("AST constructor recursion depth mismatch").
    argv += [flag, regex, "--workers", "1", "--request-timeout", "10", "--max-failures", "20"]
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEMATHESIS_", "HYPOTHESIS_"))}
    p = subprocess.run(argv, cwd=work, env=run_env, capture_output=True, text=True, timeout=85)
    report = (p.stdout + p.stderr)[-12000:]
    assert p.returncode == 0, report
    assert "Operations:" in p.stdout and " 0 selected" not in p.stdout, report
    after = {k: v for k, v in _stored(env.data).items() if k != "tuf/timestamp.json"}
    assert after == before, "generated requests changed the registry's stored objects"
