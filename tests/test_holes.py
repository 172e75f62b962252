"""Holes found from outside, each closed: small body limits on every route but the blob upload,
no 5xx on deep or non-finite JSON, only signed targets under /tuf/targets, no scratch files left
by a crash, search wildcards taken literally."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from urllib.parse import urlsplit

import pytest
import urllib3

from registry.server import ServerConfig, create_app

MiB = 1 << 20


def _raw(url: str, request: bytes, *, body_chunks: list[bytes] = (), timeout: float = 5.0) -> tuple[int, dict]:  # type: ignore[assignment]
    """Send ``request`` (a request line and headers, perhaps a start of the body) on a raw
    socket, then ``body_chunks`` while the server still reads; return the status and the
    JSON body of the answer ({} for another type). A server that waits for a body it was
    promised times out here."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as s:
        s.sendall(request)
        try:
            for chunk in body_chunks:
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body was sent
        data = b""
        while b"\r\n\r\n" not in data:
            got = s.recv(65536)
            assert got, f"connection closed without an answer: {data!r}"
            data += got
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            got = s.recv(65536)
            if not got:
                break
            rest += got
    is_json = headers.get("content-type") == "application/json"
    return status, json.loads(rest[:length]) if is_json else {}


def _post_head(path: str, length: int | None, *, token: str | None = None, chunked: bool = False) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", "Connection: close"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


# -- 1. small body limits -----------------------------------------------------------------------
# (id, method, path, answers JSON): every route but the blob upload takes small bodies only.
SMALL_BODY_ROUTES = [
    ("api-resolve", "POST", "/api/v1/models/acme/x/resolve", True),
    ("api-models", "GET", "/api/v1/models", True),
    ("api-health", "GET", "/api/v1/health", True),
    ("api-unknown-route", "POST", "/api/v1/nothing", True),
    ("hf-paths-info", "POST", "/api/models/acme/x/paths-info/main", True),
    ("hf-resolve", "GET", "/acme/x/resolve/main/manifest.json", True),
    ("tuf-metadata", "GET", "/tuf/metadata/timestamp.json", True),
    ("web-catalog", "GET", "/", False),  # an HTML error page
]


def test_a_2_mib_json_post_is_413(env) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps({"device": "a" * (2 * MiB)}).encode()
    started = time.monotonic()
    r = urllib3.request(
        "POST",
        f"{env.url}/api/v1/models/acme/x/resolve",
        body=body,
        headers={"Content-Type": "application/json"},
        retries=False,
    )
    assert r.status == 413, r.data
    assert r.json()["error"] == "request_entity_too_large"
    assert "EDZOO_MAX_JSON_BYTES" in r.json()["message"]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("method", "path", "answers_json"), [c[1:] for c in SMALL_BODY_ROUTES], ids=[c[0] for c in SMALL_BODY_ROUTES]
)
def test_a_huge_declared_body_is_refused_before_it_is_read(env, method: str, path: str, answers_json: bool) -> None:  # type: ignore[no-untyped-def]
    """A Content-Length of 512 MiB and a few bytes sent: the answer comes at once (a server that
    buffered the body would wait for the other 512 MiB and time out here)."""
    head = _post_head(path, 512 * MiB).replace(b"POST", method.encode(), 1)
    started = time.monotonic()
    status, doc = _raw(env.url, head + b'{"device"')
    assert status == 413
    if answers_json:
        assert doc["error"] == "request_entity_too_large", doc
    assert time.monotonic() - started < 3


def test_publish_has_its_own_limit_and_checks_the_token_before_the_body(env) -> None:  # type: ignore[no-untyped-def]
    config: ServerConfig = env.app.config["EDZOO"]
    assert config.max_publish_bytes > config.max_json_bytes
    status, doc = _raw(env.url, _post_head("/api/v1/publish", config.max_publish_bytes + 1, token=env.token))
    assert (status, doc["error"]) == (413, "request_entity_too_large")
    # Within the limit, but no token: refused without waiting for the body.
    status, doc = _raw(env.url, _post_head("/api/v1/publish", 2 * MiB) + b"{")
    assert (status, doc["error"]) == (401, "unauthorized")


def test_a_chunked_body_is_read_up_to_the_limit_only(env) -> None:  # type: ignore[no-untyped-def]
    head = _post_head("/api/v1/models/acme/x/resolve", None, chunked=True)
    chunks = [_chunk(b" " * 65536) for _ in range(24)] + [b"0\r\n\r\n"]  # 1.5 MiB of JSON whitespace
    status, doc = _raw(env.url, head, body_chunks=chunks)
    assert (status, doc["error"]) == (413, "request_entity_too_large")


def test_blob_uploads_still_stream_large_bodies(env) -> None:  # type: ignore[no-untyped-def]
    data = b"\x01" * (3 * MiB // 2)
    sha = hashlib.sha256(data).hexdigest()
    r = urllib3.request(
        "PUT",
        f"{env.url}/api/v1/blobs/sha256/{sha}",
        body=data,
        headers={"Authorization": f"Bearer {env.token}"},
        retries=False,
    )
    assert r.status == 201, r.data


def test_the_json_limit_is_a_setting(env) -> None:  # type: ignore[no-untyped-def]
    config = ServerConfig.from_env(env.data, {"EDZOO_MAX_JSON_BYTES": "1000"})
    assert config.max_json_bytes == 1000
    assert ServerConfig.from_env(env.data, {}).max_json_bytes == MiB
    app = create_app({"EDZOO": config})
    try:
        client = app.test_client()
        r = client.post("/api/v1/models/acme/x/resolve", json={"device": "a" * 1000})
        assert r.status_code == 413 and r.get_json()["error"] == "request_entity_too_large"
        r = client.post("/api/v1/models/acme/x/resolve", json={"device": "teacher-laptop"})
        assert r.status_code == 404, r.get_json()  # small enough: read, and the model is unknown
    finally:
        app.extensions["edzoo"].close()


# -- 2. no 5xx on deep or non-finite JSON ----------------------------------------------------------
DEEP = b"[" * 100_000 + b"]" * 100_000
# (id, body): each is refused as a 400 wherever a JSON body is read.
BAD_JSON_BODIES = [
    ("deep-100000", DEEP),
    ("deep-100", b'{"paths": ' + b"[" * 100 + b"]" * 100 + b"}"),
    ("nan", b'{"device": NaN}'),
    ("infinity", b'{"device": Infinity}'),
    ("minus-infinity", b'{"device": -Infinity}'),
    ("1e400", b'{"device": 1e400}'),
    ("role-nan", b'{"roles": {"acme": {"signed": {"version": NaN}, "signatures": []}}}'),
    ("role-1e400", b'{"roles": {"acme": {"signed": {"expires": 1e400}, "signatures": []}}}'),
    ("role-infinity", b'{"roles": {"acme.bin-00": {"signed": {"x": [Infinity]}, "signatures": []}}}'),
]
JSON_ROUTES = [
    ("resolve", "/api/v1/models/acme/reader/resolve"),
    ("publish", "/api/v1/publish"),
    ("hf-paths-info", "/api/models/acme/reader/paths-info/main"),
]


@pytest.fixture
def published(env):  # type: ignore[no-untyped-def]
    env.publish(env.build())
    return env


@pytest.mark.parametrize("route", [r[1] for r in JSON_ROUTES], ids=[r[0] for r in JSON_ROUTES])
def test_deep_or_non_finite_json_is_a_400(published, route: str) -> None:  # type: ignore[no-untyped-def]
    env = published
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {env.token}"}
    for name, body in BAD_JSON_BODIES:
        r = urllib3.request("POST", f"{env.url}{route}", body=body, headers=headers, retries=False)
        assert r.status == 400, (name, r.status, r.data[:300])
        doc = r.json()
        assert doc["error"] == "bad_request", (name, doc)
        assert "Traceback" not in doc["message"] and len(doc["message"]) < 300, (name, doc)
    before = _stored(env)
    r = urllib3.request("POST", f"{env.url}{route}", body=b'{"roles": {"acme": NaN}}', headers=headers, retries=False)
    assert "finite" in r.json()["message"]
    assert _stored(env) == before


def _stored(env) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    objects = env.data / "objects"
    return {p.relative_to(objects).as_posix(): p.read_bytes() for p in objects.rglob("*") if p.is_file()}


# -- 3. only signed targets are served ---------------------------------------------------------------
def _put_blob(env, data: bytes) -> str:  # type: ignore[no-untyped-def]
    sha = hashlib.sha256(data).hexdigest()
    r = urllib3.request(
        "PUT", f"{env.url}/api/v1/blobs/sha256/{sha}", body=data, headers={"Authorization": f"Bearer {env.token}"}
    )
    assert r.status in (200, 201), r.data
    return sha


def _signed_sha(env, path: str) -> str:  # type: ignore[no-untyped-def]
    info = env.app.extensions["edzoo"].signed_target(path)
    assert info is not None, path
    return info.hashes["sha256"]


MANIFEST = "acme/reader/1.0.0/manifest.json"
VARIANT = "acme/reader/1.0.0/variants/int8.tflite"
# (id, target URL path given the manifest's and an unsigned blob's sha256, status)
TARGET_CASES = [
    ("signed-manifest", lambda m, u: f"acme/reader/1.0.0/{m}.manifest.json", 200),
    ("signed-hash-other-name", lambda m, u: f"acme/reader/1.0.0/{m}.readme.txt", 404),
    ("signed-hash-other-version", lambda m, u: f"acme/reader/2.0.0/{m}.manifest.json", 404),
    ("signed-hash-other-namespace", lambda m, u: f"othernamespace/x/1.0.0/{m}.manifest.json", 404),
    ("signed-hash-top-level", lambda m, u: f"{m}.manifest.json", 404),
    ("signed-hash-in-a-variant-folder", lambda m, u: f"acme/reader/1.0.0/variants/{m}.manifest.json", 404),
    ("unsigned-blob-any-namespace", lambda m, u: f"othernamespace/x/{u}.anything", 404),
    ("unsigned-blob-own-namespace", lambda m, u: f"acme/reader/1.0.0/{u}.manifest.json", 404),
    ("unsigned-blob-top-level", lambda m, u: f"{u}.withdrawals.json", 404),
    ("unsigned-blob-no-name", lambda m, u: f"acme/{u}", 404),
]


def test_only_signed_targets_are_served(published) -> None:  # type: ignore[no-untyped-def]
    env = published
    signed = _signed_sha(env, MANIFEST)
    unsigned = _put_blob(env, b"uploaded by a token holder, signed by nobody")
    for case, path, status in TARGET_CASES:
        r = urllib3.request("GET", f"{env.url}/tuf/targets/{path(signed, unsigned)}", retries=False)
        assert r.status == status, (case, r.status, r.data[:200])
        if status == 404:
            assert r.json()["error"] == "not_found" and "no target" in r.json()["message"], (case, r.data)
    r = urllib3.request("GET", f"{env.url}/tuf/targets/othernamespace/x/{unsigned}.anything")
    assert "signed metadata lists no othernamespace/x/anything" in r.json()["message"]
    variant = _signed_sha(env, VARIANT)
    r = urllib3.request("GET", f"{env.url}/tuf/targets/acme/reader/1.0.0/variants/{variant}.int8.tflite")
    assert r.status == 200 and hashlib.sha256(r.data).hexdigest() == variant


def test_a_new_publish_and_a_top_level_target_are_served_at_once(published) -> None:  # type: ignore[no-untyped-def]
    """The roles cached for one snapshot version are dropped when the snapshot moves on."""
    from registry.core.recall import WITHDRAWALS_PATH
    from registry.server import recall_admin

    env = published
    registry = env.app.extensions["edzoo"]
    assert registry.signed_target(WITHDRAWALS_PATH) is None
    assert registry.signed_target("acme/reader/2.0.0/manifest.json") is None  # cached: not signed
    env.publish(env.build(version="2.0.0"))
    manifest_sha = _signed_sha(env, "acme/reader/2.0.0/manifest.json")
    r = urllib3.request("GET", f"{env.url}/tuf/targets/acme/reader/2.0.0/{manifest_sha}.manifest.json")
    assert r.status == 200
    recall_admin.withdraw(env.data, env.keys_dir, "acme/reader@1.0.0", reason="a test recall", use="2.0.0")
    sha = _signed_sha(env, WITHDRAWALS_PATH)
    r = urllib3.request("GET", f"{env.url}/tuf/targets/{sha}.{WITHDRAWALS_PATH}")
    assert r.status == 200 and hashlib.sha256(r.data).hexdigest() == sha


# -- 4. scratch files left by a crash --------------------------------------------------------------
def test_a_server_start_removes_stale_scratch_files(env) -> None:  # type: ignore[no-untyped-def]
    scratch = env.data / "objects" / ".tmp"
    stale, fresh = scratch / "tmpcrashed.upload", scratch / "tmpinprogress.upload"
    stale.write_bytes(b"half an upload, from a server that died")
    fresh.write_bytes(b"an upload another server is receiving now")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    app = create_app({"EDZOO": ServerConfig(data_dir=env.data)})
    try:
        assert not stale.exists()
        assert fresh.exists()  # it may belong to a live upload of another process
    finally:
        app.extensions["edzoo"].close()


# -- 5. search takes % and _ literally -------------------------------------------------------------
# model name → its summary
SEARCH_MODELS = {"reader": "reads letters", "writer": "writes words and/or letters", "snake": "reads snake_case names"}
# (id, q, models found)
SEARCH_CASES = [
    ("percent", "%", []),
    ("underscore", "_", ["snake"]),
    ("underscore-inside", "e_c", ["snake"]),
    ("percent-inside", "r%r", []),
    ("underscore-as-one-char", "r_ad", []),
    ("backslash", "\\", []),
    ("slash", "/", ["writer"]),  # SQLAlchemy's escape character, itself escaped
    ("slash-inside", "d/or", ["writer"]),
    ("escaped-percent", "\\%", []),
    ("plain", "WORDS", ["writer"]),
    ("plain-several", "reads", ["reader", "snake"]),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def search_index(request, tmp_path):  # type: ignore[no-untyped-def]
    from builders import manifest_for

    from registry.core import modelindex
    from registry.storage.index import Index

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    else:
        url = request.getfixturevalue("postgres").create_database()
    index = Index(url)
    versions, indexes = [], {}
    for name, summary in SEARCH_MODELS.items():
        doc = {**manifest_for("acme", name, "1.0.0", {"fp32": b"x"}), "summary": summary}
        versions.append({"manifest": doc, "sha256": hashlib.sha256(name.encode()).hexdigest(), "size": 1, "files": {}})
        indexes[name] = json.loads(modelindex.build_index("acme", name, ["1.0.0"], {}))
    with index.writer() as session:
        index.record_publish(session, "acme", versions, indexes, {})
    try:
        yield index
    finally:
        index.dispose()


def test_search_takes_wildcards_literally(search_index) -> None:  # type: ignore[no-untyped-def]
    for case, q, found in SEARCH_CASES:
        total, models = search_index.search(q)
        assert [m.name for m in models] == found, (case, q)
        assert total == len(found), case


def test_the_index_answers_in_typed_records_on_both_databases(search_index) -> None:  # type: ignore[no-untyped-def]
    """Index queries return frozen records (registry.storage.records) that stay readable after
    their session, and whose to_json is the JSON API's shape."""
    import dataclasses

    from registry.storage.records import ModelRecord, VersionRecord

    total, models = search_index.search()
    assert total == len(SEARCH_MODELS) and all(isinstance(m, ModelRecord) for m in models)
    model = search_index.model("acme", "reader")
    assert (model.id, model.latest, model.versions, model.withdrawn) == ("acme/reader", "1.0.0", ("1.0.0",), {})
    assert model.to_json()["id"] == "acme/reader" and model.to_json()["versions"] == ["1.0.0"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.latest = "2.0.0"  # type: ignore[misc]
    version = search_index.version("acme", "reader", "1.0.0")
    assert isinstance(version, VersionRecord) and version.model == "acme/reader"
    assert version.manifest["name"] == "reader" and version.manifest_size == 1
    doc = version.to_json()
    assert doc["manifest"] == {"sha256": version.manifest_sha256, "size": 1}
    assert doc["manifest_document"] is version.manifest and "manifest_document" not in version.to_json(manifest=False)
    assert [v["id"] for v in doc["variants"]] == ["fp32"]
    assert search_index.stored_version("acme", "reader", "9.9.9") is None
