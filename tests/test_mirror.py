"""`edzoo mirror`: a school's LAN mirror. Devices pull from it as from the registry, it serves
only what its catalog needs, syncs incrementally, cannot alter a model (tampered files are
rejected by the client), and keeps serving, saying it is stale, when the upstream is down."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import urllib3
from conftest import Env, ServerThread

from registry.client import pull
from registry.client.http import ClientConfig
from registry.core.errors import DownloadError, NotFoundError, SignatureError
from registry.core.profiles import load_profile
from registry.schools.mirror import (
    SyncLoop,
    create_mirror_app,
    read_status,
    run_mirror,
    status_report,
    sync,
)
from registry.server import ServerConfig, create_app

FAST = ClientConfig(timeout_s=5, retries=0)  # an unreachable upstream fails at once


def _variants(name: str, version: str) -> dict[str, bytes]:
    return {
        "fp32": f"{name} {version} fp32 weights ".encode() * 40,
        "int8": f"{name} {version} int8 ".encode() * 10,
    }


def _publish(env: Env, name: str, version: str = "1.0.0") -> dict[str, bytes]:
    variants = _variants(name, version)
    env.publish(env.build(name, version, variants=variants))
    return variants


def _catalog(tmp: Path, *models: str) -> Path:
    path = tmp / "catalog.json"
    doc = {
        "schema_version": 1,
        "id": "test-school",
        "title": "Test school",
        "models": [{"model": m, "priority": 10 * (i + 1)} for i, m in enumerate(models)],
    }
    path.write_text(json.dumps(doc))
    return path


def _pull(env: Env, url: str, ref: str, cache: str, **kw):  # type: ignore[no-untyped-def]
    return pull(ref, registry=url, root=env.root, cache_dir=env.tmp / cache, **kw)


def _get(url: str, path: str, method: str = "GET", body: bytes | None = None) -> urllib3.BaseHTTPResponse:
    return urllib3.request(method, url + path, body=body, retries=False, redirect=False)


def _raw_get(url: str, path: str) -> tuple[int, bytes]:
    """A request with the path sent exactly as written (no client-side normalisation)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _served_target(data: Path, target: str) -> Path:
    folder, _, name = target.rpartition("/")
    (found,) = (data / "www" / "tuf" / "targets" / folder).glob(f"*.{name}")
    return found


def _flip(path: Path) -> None:
    """Overwrite a file in place with other bytes of the same length (an attacker with disk access)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    with open(path, "r+b") as f:
        f.write(bytes(data))


@pytest.fixture
def school(env: Env):  # type: ignore[no-untyped-def]
    """Two catalog models and one the catalog does not list, published; the catalog file."""
    published = {name: _publish(env, name) for name in ("reader", "counter", "secret")}
    return published, _catalog(env.tmp, "acme/reader", "acme/counter")


def test_devices_pull_catalog_models_from_the_mirror(env, school):  # type: ignore[no-untyped-def]
    published, catalog = school
    data = env.tmp / "mirror"
    result = sync(env.url, catalog, data, root=env.root)
    assert [(m.model, m.version, m.variants) for m in result.models] == [
        ("acme/reader", "1.0.0", ("fp32", "int8")),
        ("acme/counter", "1.0.0", ("fp32", "int8")),
    ]
    # per model: versions index, manifest, two variants
    assert (result.fetched_files, result.skipped_files, result.unavailable) == (8, 0, ())
    assert result.metadata_bytes > 0 and result.written_files > 8
    status = read_status(data)
    assert status is not None and status["last_error"] is None and status["catalog"]["id"] == "test-school"
    assert status["snapshot_version"] == result.snapshot_version
    assert status["models"][0]["variants"] == ["fp32", "int8"]
    assert not list(data.rglob("*.pem")) and not list(data.rglob("*key*"))  # no signing keys anywhere

    server = ServerThread(create_mirror_app(data))
    try:
        for name in ("reader", "counter"):
            got = _pull(env, server.url, f"acme/{name}", "device-a", variant="int8")
            assert got.blob.read_bytes() == published[name]["int8"] and got.registry == server.url
        # a device profile: the suggestion POST gets a 404 and the device chooses by itself
        chosen = _pull(env, server.url, "acme/reader@1.0.0", "device-b", device=load_profile("teacher-laptop"))
        assert chosen.choice is not None and chosen.server_agreed is None
        assert chosen.blob.read_bytes() == published["reader"][chosen.variant]
        with pytest.raises(NotFoundError):
            _pull(env, server.url, "acme/secret", "device-a")  # published upstream, not in the catalog

        r = _get(server.url, "/api/v1/models/acme/reader/resolve", "POST", b"{}")
        assert r.status == 404 and r.json()["error"] == "not_found"
        assert r.headers["X-Edzoo-Mirror-Synced"] == status["last_success"]
        r = _get(server.url, "/tuf/metadata/timestamp.json")
        assert r.headers["Cache-Control"] == "no-cache" and r.headers["X-Edzoo-Mirror-Synced"]
        assert _get(server.url, "/tuf/metadata/1.root.json").headers["Cache-Control"] == "no-cache"
        assert (
            "immutable"
            in _get(server.url, f"/tuf/metadata/{result.snapshot_version}.snapshot.json").headers["Cache-Control"]
        )
        assert _get(server.url, "/tuf/metadata/99.root.json").status == 404  # the end of a root probe
        # the registry and its mirror answer the same names with the same caching (core.tufnames)
        for name in ("timestamp.json", "1.root.json", "99.root.json", f"{result.snapshot_version}.snapshot.json"):
            mine, theirs = _get(server.url, f"/tuf/metadata/{name}"), _get(env.url, f"/tuf/metadata/{name}")
            assert (mine.status, mine.headers["Cache-Control"]) == (theirs.status, theirs.headers["Cache-Control"]), (
                name
            )
        health = _get(server.url, "/api/v1/health").json()
        assert health["fresh"] is True and health["upstream"] == env.url and health["age_seconds"] >= 0
    finally:
        server.stop()


@pytest.mark.parametrize(
    "path",
    [
        "/tuf/targets/../../mirror.json",
        "/tuf/targets/acme/../../../mirror.json",
        "/tuf/targets/%2e%2e/%2e%2e/mirror.json",
        "/tuf/targets/acme/reader/..%2f..%2f..%2fmirror.json",
        "/tuf/targets//etc/passwd",
        "/tuf/targets/acme/.sync.lock",
        "/tuf/metadata/..%2f..%2fmirror.json",
        "/tuf/metadata/%2e%2e",
        "/tuf/metadata/mirror.json",
        "/tuf/metadata/.timestamp.json.tmp",
        "/mirror.json",
        "/www/tuf/metadata/timestamp.json",
        "/cache/",
    ],
)
def test_path_traversal_gets_404(tmp_path, path):  # type: ignore[no-untyped-def]
    data = tmp_path / "mirror"
    (data / "www" / "tuf" / "metadata").mkdir(parents=True)
    (data / "www" / "tuf" / "metadata" / "timestamp.json").write_text("{}")
    (data / "www" / "tuf" / "metadata" / ".timestamp.json.tmp").write_text("{}")
    (data / "mirror.json").write_text(json.dumps({"kind": "edzoo-mirror-status", "secret": "status"}))
    (data / ".sync.lock").write_text("")
    server = ServerThread(create_mirror_app(data))
    try:
        status, body = _raw_get(server.url, path)
        assert status == 404, body
        assert json.loads(body)["error"] == "not_found"
        assert b"secret" not in body
    finally:
        server.stop()


def test_incremental_sync_fetches_only_new_files(env, school):  # type: ignore[no-untyped-def]
    _, catalog = school
    data = env.tmp / "mirror"
    first = sync(env.url, catalog, data, root=env.root)
    server = ServerThread(create_mirror_app(data))
    try:
        assert _pull(env, server.url, "acme/reader", "device").version == "1.0.0"

        again = sync(env.url, catalog, data)  # the root is pinned now
        assert (again.fetched_files, again.fetched_bytes, again.written_files) == (0, 0, 0)
        assert (again.skipped_files, again.skipped_bytes) == (8, first.fetched_bytes)

        new = _publish(env, "reader", "1.1.0")
        third = sync(env.url, catalog, data)
        # reader's new versions index, manifest and two variants; counter's four files are held already
        assert (third.fetched_files, third.skipped_files) == (4, 4)
        assert third.snapshot_version > first.snapshot_version
        assert next(m for m in third.models if m.model == "acme/reader").version == "1.1.0"
        reader = data / "www" / "tuf" / "targets" / "acme" / "reader"
        version_files = [f for f in (reader / "1.1.0").rglob("*") if f.is_file()]  # manifest, two variants
        (index,) = [f for f in reader.glob("*.versions.json") if "1.1.0" in f.read_text()]
        assert len(version_files) == 3
        assert third.fetched_bytes == sum(f.stat().st_size for f in [*version_files, index])

        got = _pull(env, server.url, "acme/reader", "device", variant="fp32")  # the same device, updated
        assert (got.version, got.downloaded) == ("1.1.0", True)
        assert got.blob.read_bytes() == new["fp32"]
    finally:
        server.stop()

    # A catalog that pins a version and names a model the registry lacks: those are reported, not fatal.
    doc = json.loads(catalog.read_text())
    doc["models"] += [
        {"model": "acme/ghost", "priority": 5},
        {"model": "acme/secret", "version": "9.9.9", "priority": 5},
    ]
    doc["models"][0]["version"] = "1.0.0"
    catalog.write_text(json.dumps(doc))
    pinned = sync(env.url, catalog, data)
    assert [(m.model, m.requested, m.version) for m in pinned.models] == [
        ("acme/reader", "1.0.0", "1.0.0"),
        ("acme/counter", "latest", "1.0.0"),
    ]
    reasons = {u.model: u.reason for u in pinned.unavailable}
    assert (
        reasons["acme/ghost"] == f"not published in {env.url}"
        and "has no version 9.9.9; published: 1.0.0" in reasons["acme/secret"]
    )
    assert read_status(data)["unavailable"][0]["model"] == "acme/ghost"  # type: ignore[index]


def test_tampered_files_are_rejected_by_devices_and_repaired_by_sync(env, school):  # type: ignore[no-untyped-def]
    published, catalog = school
    data = env.tmp / "mirror"
    sync(env.url, catalog, data, root=env.root)
    server = ServerThread(create_mirror_app(data))
    try:
        _flip(_served_target(data, "acme/reader/1.0.0/variants/fp32.tflite"))
        with pytest.raises(SignatureError):
            _pull(env, server.url, "acme/reader", "device-1", variant="fp32")

        repaired = sync(env.url, catalog, data)
        assert repaired.written_files >= 1
        got = _pull(env, server.url, "acme/reader", "device-2", variant="fp32")
        assert got.blob.read_bytes() == published["reader"]["fp32"]

        timestamp = data / "www" / "tuf" / "metadata" / "timestamp.json"
        doc = json.loads(timestamp.read_bytes())
        doc["signed"]["expires"] = "2099-01-01T00:00:00Z"  # a mirror extending its own freshness
        timestamp.write_text(json.dumps(doc))
        with pytest.raises(SignatureError):
            _pull(env, server.url, "acme/counter", "device-3")
        sync(env.url, catalog, data)
        assert _pull(env, server.url, "acme/counter", "device-4").version == "1.0.0"
    finally:
        server.stop()


def test_upstream_down_mirror_keeps_serving_and_says_stale(env, school):  # type: ignore[no-untyped-def]
    published, catalog = school
    app = create_app({"EDZOO": ServerConfig(data_dir=env.data), "TESTING": True})
    upstream = ServerThread(app)
    data = env.tmp / "mirror"
    logs: list[str] = []
    try:
        sync(upstream.url, catalog, data, root=env.root, interval=1, config=FAST)
        loop = SyncLoop(upstream.url, catalog, data, interval=0.2, config=FAST, log=logs.append)
        loop.start()
        try:
            _publish(env, "counter", "2.0.0")
            deadline = time.monotonic() + 15
            while not any("counter" in json.dumps(m) and m["version"] == "2.0.0" for m in _models(data)):
                assert time.monotonic() < deadline, logs
                time.sleep(0.1)
            assert any(" sync ok " in line for line in logs)
        finally:
            loop.stop()
        last_success = read_status(data)["last_success"]  # type: ignore[index]
    finally:
        upstream.stop()
        app.extensions["edzoo"].close()

    with pytest.raises(DownloadError, match="cannot sync from the upstream registry"):
        sync(upstream.url, catalog, data, interval=1, config=FAST)
    SyncLoop(upstream.url, catalog, data, interval=1, config=FAST, log=logs.append).run_once()
    assert "sync FAILED" in logs[-1] and f"still serving the copy synced at {last_success}" in logs[-1]

    mirror = ServerThread(create_mirror_app(data))
    try:
        got = _pull(env, mirror.url, "acme/counter", "device", variant="int8")
        assert got.version == "2.0.0" and got.blob.read_bytes() == _variants("counter", "2.0.0")["int8"]
        time.sleep(2.2)  # past 2 x the 1 s interval
        r = _get(mirror.url, "/mirror/status")
        status = r.json()
        assert status["fresh"] is False and status["last_success"] == last_success
        assert "cannot sync from the upstream registry" in status["last_error"]
        assert status["age_seconds"] >= 2 and status["timestamp_expired"] is False
        assert any("more than 2 sync intervals" in reason for reason in status["stale_reasons"])
        assert r.headers["X-Edzoo-Mirror-Synced"] == last_success
        assert status_report(data)["fresh"] is False
    finally:
        mirror.stop()


def _models(data: Path) -> list[dict]:
    return (read_status(data) or {}).get("models", [])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mirror_without_a_copy_fails_clearly_when_upstream_is_down(env, school):  # type: ignore[no-untyped-def]
    _, catalog = school
    dead = f"http://127.0.0.1:{_free_port()}"
    data = env.tmp / "mirror"
    with pytest.raises(DownloadError, match="holds no earlier copy to serve"):
        run_mirror(dead, catalog, data, root=env.root, host="127.0.0.1", port=0, config=FAST, log=lambda _: None)
    assert not (data / "www").exists()


def test_cli_mirror_once_serve_and_status(env, school):  # type: ignore[no-untyped-def]
    published, catalog = school
    data = env.tmp / "mirror"
    edzoo = [str(Path(sys.executable).with_name("edzoo"))]  # the entry point (`-m registry.cli.main` misses it)
    run_env = {**os.environ, "EDZOO_CACHE": str(env.tmp / "cli-cache")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*edzoo, *args], env=run_env, capture_output=True, text=True, timeout=120)

    base = ["mirror", "--upstream", env.url, "--catalog", str(catalog), "--data", str(data)]
    p = run(*base, "--root", str(env.root), "--once")
    assert p.returncode == 0, p.stderr
    assert "synced 2 models from" in p.stdout and "acme/reader 1.0.0 (latest): variants fp32, int8" in p.stdout
    assert "fetched 8 files" in p.stdout and "skipped 0 files" in p.stdout and "fresh" in p.stdout
    p = run(*base, "--once")
    assert p.returncode == 0 and "fetched 0 files" in p.stdout and "skipped 8 files" in p.stdout, p.stderr

    p = run("mirror-status", "--data", str(data), "--check")
    assert p.returncode == 0 and "fresh" in p.stdout and "acme/counter 1.0.0" in p.stdout, p.stderr
    p = run("mirror-status", "--data", str(env.tmp), "--json")
    assert p.returncode == 2 and "not a mirror data folder" in p.stderr
    bad = env.tmp / "bad.json"
    bad.write_text('{"schema_version": 1}')
    p = run("mirror", "--upstream", env.url, "--catalog", str(bad), "--data", str(env.tmp / "other"), "--once")
    assert p.returncode == 2 and "error: invalid catalog" in p.stderr and not (env.tmp / "other").exists()

    port = _free_port()
    log = open(env.tmp / "mirror.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [*edzoo, *base, "--host", "127.0.0.1", "--port", str(port), "--interval", "60"],
        env=run_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if _get(url, "/mirror/status").status == 200:
                    break
            except urllib3.exceptions.HTTPError:
                time.sleep(0.1)
        got = _pull(env, url, "acme/counter", "device", variant="fp32")
        assert got.blob.read_bytes() == published["counter"]["fp32"]
    finally:
        server.terminate()
        server.wait(10)
        log.close()
    assert "sync ok" in (env.tmp / "mirror.log").read_text()
