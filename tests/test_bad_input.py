"""Bad input for every endpoint and every command: a clear error, a 4xx or an exit code, and
nothing stored changes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import urllib3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SHA = hashlib.sha256(b"hello").hexdigest()


def _state(data: Path) -> dict[str, bytes]:
    """Every stored object (blobs and TUF metadata), to check that nothing changed."""
    objects = data / "objects"
    return {
        p.relative_to(objects).as_posix(): p.read_bytes()
        for p in objects.rglob("*")
        if p.is_file() and ".tmp" not in p.parts
    }


# (id, method, path, body, headers or None for the publisher's token, status, error code)
ENDPOINT_CASES = [
    ("models-limit-not-int", "GET", "/api/v1/models?limit=ten", None, {}, 400, "bad_request"),
    ("models-limit-zero", "GET", "/api/v1/models?limit=0", None, {}, 400, "bad_request"),
    ("models-bad-namespace", "GET", "/api/v1/models?namespace=Bad_NS", None, {}, 400, "bad_request"),
    ("model-bad-name", "GET", "/api/v1/models/acme/Bad..Name", None, {}, 400, "bad_request"),
    ("model-unknown", "GET", "/api/v1/models/acme/nothing", None, {}, 404, "not_found"),
    ("version-not-semver", "GET", "/api/v1/models/acme/reader/versions/latest", None, {}, 400, "bad_request"),
    ("version-unknown", "GET", "/api/v1/models/acme/reader/versions/9.9.9", None, {}, 404, "not_found"),
    ("variants-unknown", "GET", "/api/v1/models/acme/reader/versions/9.9.9/variants", None, {}, 404, "not_found"),
    ("blob-head-bad-digest", "HEAD", "/api/v1/blobs/sha256/xyz", None, {}, 400, None),
    ("blob-head-unknown", "HEAD", f"/api/v1/blobs/sha256/{'0' * 64}", None, {}, 404, None),
    ("blob-put-no-token", "PUT", f"/api/v1/blobs/sha256/{SHA}", b"hello", {}, 401, "unauthorized"),
    (
        "blob-put-bad-token",
        "PUT",
        f"/api/v1/blobs/sha256/{SHA}",
        b"hello",
        {"Authorization": "Bearer nope"},
        401,
        "unauthorized",
    ),
    (
        "blob-put-basic-auth",
        "PUT",
        f"/api/v1/blobs/sha256/{SHA}",
        b"hello",
        {"Authorization": "Basic eDp5"},
        401,
        "unauthorized",
    ),
    ("blob-put-bad-digest", "PUT", "/api/v1/blobs/sha256/ABC", b"hello", None, 400, "bad_request"),
    ("blob-put-wrong-hash", "PUT", f"/api/v1/blobs/sha256/{'1' * 64}", b"hello", None, 400, "hash_mismatch"),
    ("blob-put-empty", "PUT", f"/api/v1/blobs/sha256/{SHA}", b"", None, 400, "bad_request"),
    ("publish-no-token", "POST", "/api/v1/publish", b"{}", {}, 401, "unauthorized"),
    ("publish-malformed-json", "POST", "/api/v1/publish", b"{roles:", None, 400, "bad_request"),
    ("publish-not-object", "POST", "/api/v1/publish", b"[1,2]", None, 400, "bad_request"),
    ("publish-roles-not-object", "POST", "/api/v1/publish", b'{"roles": []}', None, 400, "bad_request"),
    ("publish-empty-roles", "POST", "/api/v1/publish", b'{"roles": {}}', None, 400, "bad_request"),
    (
        "publish-role-not-metadata",
        "POST",
        "/api/v1/publish",
        b'{"roles": {"acme": {"signed": 1}}}',
        None,
        400,
        "bad_request",
    ),
    ("publish-role-string", "POST", "/api/v1/publish", b'{"roles": {"acme": "x"}}', None, 400, "bad_request"),
    ("role-unknown", "GET", "/api/v1/roles/nobody", None, {}, 404, "not_found"),
    ("role-top-level", "GET", "/api/v1/roles/timestamp", None, {}, 404, "not_found"),
    ("log-after-negative", "GET", "/api/v1/log?after=-1", None, {}, 400, "bad_request"),
    ("log-limit-huge", "GET", "/api/v1/log?limit=100000", None, {}, 400, "bad_request"),
    ("metadata-unknown", "GET", "/tuf/metadata/passwd", None, {}, 404, "not_found"),
    ("metadata-traversal", "GET", "/tuf/metadata/..%2F..%2Fregistry.json", None, {}, 404, "not_found"),
    ("metadata-future-version", "GET", "/tuf/metadata/99.snapshot.json", None, {}, 404, "not_found"),
    ("target-no-hash", "GET", "/tuf/targets/acme/reader/1.0.0/manifest.json", None, {}, 404, "not_found"),
    ("target-unknown-hash", "GET", f"/tuf/targets/acme/x/{'0' * 64}.manifest.json", None, {}, 404, "not_found"),
    ("unknown-route", "GET", "/api/v1/nothing", None, {}, 404, "not_found"),
    ("wrong-method", "DELETE", "/api/v1/models", None, {}, 405, "method_not_allowed"),
]


@pytest.mark.parametrize("case", ENDPOINT_CASES, ids=[c[0] for c in ENDPOINT_CASES])
def test_endpoint_rejects(env, case):  # type: ignore[no-untyped-def]
    _, method, path, body, headers, status, code = case
    env.publish(env.build())
    before = _state(env.data)
    if headers is None:
        headers = {"Authorization": f"Bearer {env.token}"}
    r = urllib3.request(method, env.url + path, body=body, headers=headers, retries=False)
    assert r.status == status, r.data
    if code is not None:
        doc = r.json()
        assert doc["error"] == code and doc["message"]
    assert _state(env.data) == before


def test_truncated_upload_stores_nothing(env):  # type: ignore[no-untyped-def]
    """The client promises 1000 bytes, sends 10 and hangs up: no blob appears."""
    import socket

    before = _state(env.data)
    host, port = env.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(
            (
                f"PUT /api/v1/blobs/sha256/{SHA} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                f"Authorization: Bearer {env.token}\r\n\r\n0123456789"
            ).encode()
        )
        s.shutdown(socket.SHUT_WR)
        s.recv(4096)
    assert _state(env.data) == before
    assert not list((env.data / "objects" / ".tmp").iterdir())


def test_publish_with_missing_blob_is_refused(env):  # type: ignore[no-untyped-def]
    from registry.client import upload

    real = upload.ApiClient.upload_blob
    upload.ApiClient.upload_blob = lambda self, *a, **k: None  # a client that "forgets" to upload
    try:
        from registry.core.errors import UsageError

        with pytest.raises(UsageError, match="was not uploaded"):
            env.publish(env.build())
    finally:
        upload.ApiClient.upload_blob = real
    assert urllib3.request("GET", f"{env.url}/api/v1/models/acme/reader").status == 404


# -- the CLI -------------------------------------------------------------------------------------


def _cli(env, *args: str):  # type: ignore[no-untyped-def]
    run_env = {**os.environ, "EDZOO_CACHE": str(env.tmp / "cli-cache"), "EDZOO_KEYS": str(env.tmp / "cli-keys")}
    run_env.pop("EDZOO_REGISTRY", None)
    run_env.pop("EDZOO_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", *args],
        cwd=env.tmp,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _bad_manifest(env) -> str:  # type: ignore[no-untyped-def]
    build = env.build(name="broken")
    doc = json.loads((build / "manifest.json").read_text())
    doc["variants"][0]["sha256"] = "nothex"
    (build / "manifest.json").write_text(json.dumps(doc))
    return str(build)


def _not_json(env) -> str:  # type: ignore[no-untyped-def]
    (env.tmp / "garbage.json").write_text("{not json")
    return str(env.tmp / "garbage.json")


# (id, argv builder, exit code, text expected on stderr)
CLI_CASES = [
    ("pull-bad-ref", lambda e: ["pull", "no-slash", "--registry", e.url, "--root", str(e.root)], 2, "NAMESPACE/MODEL"),
    (
        "pull-bad-version",
        lambda e: ["pull", "acme/reader@1.x", "--registry", e.url, "--root", str(e.root)],
        2,
        "invalid version",
    ),
    ("pull-no-root-first-time", lambda e: ["pull", "acme/reader", "--registry", e.url], 2, "no trusted root"),
    (
        "pull-root-not-json",
        lambda e: ["pull", "acme/reader", "--registry", e.url, "--root", _not_json(e)],
        4,
        "not valid TUF root",
    ),
    (
        "pull-unknown-model",
        lambda e: ["pull", "acme/nothing", "--registry", e.url, "--root", str(e.root)],
        6,
        "no model acme/nothing",
    ),
    (
        "pull-unknown-variant",
        lambda e: ["pull", "acme/reader", "--variant", "gpu", "--registry", e.url, "--root", str(e.root)],
        6,
        "gpu",
    ),
    (
        "pull-bad-scheme",
        lambda e: ["pull", "acme/reader", "--registry", "ftp://x", "--root", str(e.root)],
        2,
        "http://",
    ),
    (
        "pull-unreachable",
        lambda e: ["pull", "acme/reader", "--registry", "http://127.0.0.1:9", "--root", str(e.root)],
        8,
        "connection refused",
    ),
    (
        "pull-offline-empty-cache",
        lambda e: ["pull", "acme/reader", "--offline", "--registry", e.url, "--root", str(e.root)],
        9,
        "pull once while online",
    ),
    (
        "publish-bad-token",
        lambda e: ["publish", str(e.build(name="other")), "--registry", e.url, "--key", str(e.key), "--token", "wrong"],
        3,
        "unknown upload token",
    ),
    (
        "publish-no-token",
        lambda e: ["publish", str(e.build(name="other")), "--registry", e.url, "--key", str(e.key)],
        2,
        "upload token is required",
    ),
    (
        "publish-missing-key",
        lambda e: ["publish", str(e.build(name="other")), "--registry", e.url, "--key", "nope.pem", "--token", e.token],
        2,
        "cannot read private key",
    ),
    (
        "publish-key-not-pem",
        lambda e: [
            "publish",
            str(e.build(name="other")),
            "--registry",
            e.url,
            "--key",
            _not_json(e),
            "--token",
            e.token,
        ],
        2,
        "not an unencrypted PEM",
    ),
    (
        "publish-bad-manifest",
        lambda e: ["publish", _bad_manifest(e), "--registry", e.url, "--key", str(e.key), "--token", e.token],
        2,
        "$.variants[0].sha256",
    ),
    (
        "publish-no-manifest",
        lambda e: ["publish", str(e.tmp), "--registry", e.url, "--key", str(e.key), "--token", e.token],
        2,
        "manifest.json",
    ),
    (
        "publish-bad-alias",
        lambda e: [
            "publish",
            str(e.build(name="other")),
            "--registry",
            e.url,
            "--key",
            str(e.key),
            "--token",
            e.token,
            "--alias",
            "latest",
        ],
        2,
        "'latest' is computed",
    ),
    ("keys-new-bad-name", lambda e: ["keys", "new", "../evil"], 2, "invalid key name"),
    ("keys-new-exists", lambda e: ["keys", "new", "alice", "--dir", str(e.key.parent)], 2, "already exists"),
    ("init-existing", lambda e: ["registry", "init", str(e.data)], 2, "already holds a registry"),
    ("init-keys-inside-data", lambda e: ["registry", "init", "fresh", "--keys", "fresh/keys"], 2, "must not be inside"),
    ("init-threshold-too-high", lambda e: ["registry", "init", "fresh2", "--root-threshold", "2"], 2, "threshold"),
    (
        "add-publisher-reserved",
        lambda e: ["registry", "add-publisher", str(e.data), "targets", str(e.pub), "--keys", str(e.keys_dir)],
        2,
        "reserved",
    ),
    (
        "add-publisher-bad-key",
        lambda e: ["registry", "add-publisher", str(e.data), "globex", _not_json(e), "--keys", str(e.keys_dir)],
        2,
        "not a public key",
    ),
    (
        "add-publisher-no-offline-keys",
        lambda e: ["registry", "add-publisher", str(e.data), "globex", str(e.pub), "--keys", str(e.tmp)],
        6,
        "no targets keys",
    ),
    ("verify-not-in-cache", lambda e: ["verify", str(e.key)], 2, "not a pulled file"),
    ("trust-export-not-registry", lambda e: ["trust", "export", "--data", str(e.tmp)], 2, "not an edzoo registry"),
    ("serve-not-registry", lambda e: ["serve", "--data", str(e.tmp)], 6, "not an edzoo registry"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_rejects(env, case):  # type: ignore[no-untyped-def]
    _, argv, code, text = case
    env.publish(env.build())
    before = _state(env.data)
    p = _cli(env, *argv(env))
    assert p.returncode == code, (p.stdout, p.stderr)
    assert text in p.stderr and p.stderr.startswith("error: ")
    assert "Traceback" not in p.stderr
    assert _state(env.data) == before


def test_help_teaches_every_command(env):  # type: ignore[no-untyped-def]
    for args in (
        ["--help"],
        ["pull", "--help"],
        ["publish", "--help"],
        ["serve", "--help"],
        ["registry", "init", "--help"],
        ["registry", "add-publisher", "--help"],
        ["keys", "new", "--help"],
        ["trust", "export", "--help"],
        ["verify", "--help"],
    ):
        p = _cli(env, *args)
        assert p.returncode == 0 and "Usage: edzoo" in p.stdout, args


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
        max_leaves=20,
    )
)
def test_publish_never_answers_500(env, body):  # type: ignore[no-untyped-def]
    """Any JSON at all, including roles that look almost right: a 4xx, never a 500."""
    for doc in (
        body,
        {"roles": body},
        {"roles": {"acme": body}},
        {"roles": {"acme.bin-00": {"signed": body, "signatures": []}}},
    ):
        r = urllib3.request(
            "POST",
            env.url + "/api/v1/publish",
            body=json.dumps(doc).encode(),
            headers={"Authorization": f"Bearer {env.token}", "Content-Type": "application/json"},
        )
        assert 400 <= r.status < 500, (doc, r.data)
