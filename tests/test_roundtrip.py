"""Publish → pull round trips against a real server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy
import urllib3
from conftest import HELLO, REPO

from registry.client import Puller, verify_cached
from registry.core.errors import (
    ExpiredMetadataError,
    NotFoundError,
    OfflineError,
    SignatureError,
    StorageError,
    UntrustedMetadataError,
)


def test_publish_then_pull_verifies_and_caches(env):  # type: ignore[no-untyped-def]
    build = env.build()
    result = env.publish(build)
    assert result.status == "published" and result.version == "1.0.0"
    pulled = env.pull("acme/reader")
    assert pulled.version == "1.0.0" and pulled.variant == "fp32" and pulled.downloaded
    assert pulled.path.read_bytes() == (build / "variants" / "fp32.tflite").read_bytes()
    assert pulled.path.is_symlink() and pulled.blob.name == pulled.sha256
    assert hashlib.sha256(pulled.blob.read_bytes()).hexdigest() == pulled.sha256
    again = env.pull("acme/reader")
    assert not again.downloaded and again.path == pulled.path


def test_hello_example_round_trip(env, tmp_path):  # type: ignore[no-untyped-def]
    """The shipped example (real .tflite files) publishes under its own namespace."""
    from registry.server import admin

    token = admin.add_publisher(env.data, env.keys_dir, "edzoo", env.pub)
    from registry.client import publish

    publish(HELLO, registry=env.url, key_path=env.key, token=token)
    doc = json.loads((HELLO / "manifest.json").read_text())
    for variant in doc["variants"]:
        pulled = env.pull(f"edzoo/hello@{doc['version']}", variant=variant["id"])
        assert pulled.sha256 == variant["sha256"]
        assert pulled.path.read_bytes() == (HELLO / variant["file"]).read_bytes()


def test_versions_and_aliases_resolve_from_signed_index(env):  # type: ignore[no-untyped-def]
    env.publish(env.build(version="1.0.0"), aliases=["stable"])
    env.publish(env.build(version="1.1.0"))
    env.publish(env.build(version="2.0.0-rc.1"))
    assert env.pull("acme/reader").version == "1.1.0"  # latest skips pre-releases
    assert env.pull("acme/reader@latest").version == "1.1.0"
    assert env.pull("acme/reader@stable").version == "1.0.0"
    assert env.pull("acme/reader@2.0.0-rc.1").version == "2.0.0-rc.1"
    env.publish(env.build(version="1.1.0"), aliases=["stable"])  # moving an alias only
    assert env.pull("acme/reader@stable").version == "1.1.0"
    with pytest.raises(NotFoundError, match="no version or alias 'beta'"):
        env.pull("acme/reader@beta")
    with pytest.raises(NotFoundError, match="no model acme/nothing"):
        env.pull("acme/nothing")
    with pytest.raises(NotFoundError, match="no version 9.9.9"):
        env.pull("acme/reader@9.9.9")
    model = urllib3.request("GET", f"{env.url}/api/v1/models/acme/reader").json()
    assert model["latest"] == "1.1.0" and model["aliases"] == {"stable": "1.1.0"}
    assert model["versions"] == ["1.0.0", "1.1.0", "2.0.0-rc.1"]


def test_offline_pull_and_verify(env):  # type: ignore[no-untyped-def]
    env.publish(env.build())
    online = env.pull("acme/reader@1.0.0", variant="int8")
    env.app.extensions["edzoo"].objects.root.rename(env.tmp / "gone")  # the registry is unreachable now
    offline = env.pull("acme/reader@1.0.0", variant="int8", offline=True)
    assert offline.path.read_bytes() == online.path.read_bytes() and offline.offline
    target, info, expired = verify_cached(online.path, cache_dir=env.tmp / "cache")
    assert target == "acme/reader/1.0.0/variants/int8.tflite" and not expired
    with pytest.raises(OfflineError, match="never pulled"):
        env.pull("acme/reader@1.0.0", variant="fp32", offline=True)


def test_offline_grace_window(env):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from registry.core import offline, trust

    env.publish(env.build())
    pulled = env.pull("acme/reader")
    reg = Puller(env.url, root=env.root, cache_dir=env.tmp / "cache", offline=True).reg
    read = offline.cached_metadata_reader(reg.metadata_dir)
    pinned = (reg.root / "pinned-root.json").read_bytes()
    two_days = trust.now() + timedelta(days=2)  # the timestamp lives one day
    v = offline.OfflineVerifier(read, pinned, grace=timedelta(days=14), at=two_days)
    assert v.expired == ["timestamp"]
    assert v.target_info("acme/reader/1.0.0/variants/fp32.tflite").length == pulled.size
    with pytest.raises(ExpiredMetadataError, match="beyond the offline grace of 0 days") as expired:
        offline.OfflineVerifier(read, pinned, grace=timedelta(0), at=two_days)
    assert isinstance(expired.value, SignatureError)  # the same exit code and HTTP status
    assert expired.value.role == "timestamp" and trust.now() < expired.value.expires < two_days
    doc = json.loads(pinned)
    doc["signatures"][0]["sig"] = "00" * 64  # a root its own keys did not sign
    with pytest.raises(UntrustedMetadataError, match="the trusted root is not valid"):
        offline.OfflineVerifier(read, json.dumps(doc).encode(), grace=timedelta(14))


def test_an_emptied_pin_pins_nothing(env):  # type: ignore[no-untyped-def]
    """The pin is written without fsync; a power cut just after first use can leave it empty.
    Such a pin trusts no root: the next use needs a root given by hand again, which is pinned."""
    from registry.core.errors import UsageError

    env.publish(env.build())
    cache = env.tmp / "pinned"
    pin = Puller(env.url, root=env.root, cache_dir=cache).reg.root / "pinned-root.json"
    assert pin.read_bytes() == env.root.read_bytes()
    pin.write_bytes(b"")
    with pytest.raises(UsageError, match="no trusted root"):
        Puller(env.url, cache_dir=cache)
    Puller(env.url, root=env.root, cache_dir=cache).pull("acme/reader")
    assert pin.read_bytes() == env.root.read_bytes()


def test_pull_metadata_does_not_grow_with_models(env):  # type: ignore[no-untyped-def]
    for i in range(6):
        env.publish(env.build(name=f"model{i}"))
    puller = Puller(env.url, root=env.root, cache_dir=env.tmp / "fresh")
    puller.pull("acme/model3")
    roles = [re.sub(r"^\d+\.", "", u.rsplit("/", 1)[-1]) for u in puller.urls_fetched if "/tuf/metadata/" in u]
    bins = [r for r in roles if ".bin-" in r]
    assert set(roles) - set(bins) == {"timestamp.json", "snapshot.json", "targets.json", "acme.json"}
    assert 1 <= len(set(bins)) <= 3  # the versions index, the manifest and the variant


def test_library_result_is_typed(env):  # type: ignore[no-untyped-def]
    from registry.client import PullResult, pull

    env.publish(env.build())
    result = pull("acme/reader", registry=env.url, root=env.root.read_bytes(), cache_dir=env.tmp / "c")
    assert isinstance(result, PullResult) and result.manifest["name"] == "reader"


def test_crash_during_publish_leaves_previous_state(env, monkeypatch):  # type: ignore[no-untyped-def]
    env.publish(env.build(version="1.0.0"))
    registry = env.app.extensions["edzoo"]
    real_put = registry.objects.put_bytes

    def crash_on_timestamp(key: str, data: bytes) -> None:
        if key == "tuf/timestamp.json":
            raise OSError(28, "No space left on device")
        real_put(key, data)

    monkeypatch.setattr(registry.objects, "put_bytes", crash_on_timestamp)
    with pytest.raises(StorageError):
        env.publish(env.build(version="1.1.0"))
    monkeypatch.setattr(registry.objects, "put_bytes", real_put)
    assert env.pull("acme/reader").version == "1.0.0"
    model = urllib3.request("GET", f"{env.url}/api/v1/models/acme/reader").json()
    assert model["versions"] == ["1.0.0"]  # the index rolled back with the timestamp
    assert env.publish(env.build(version="1.1.0")).status == "published"  # and a retry works
    assert env.pull("acme/reader").version == "1.1.0"


def test_api_browse_and_log(env):  # type: ignore[no-untyped-def]
    env.publish(env.build(name="reader"))
    env.publish(env.build(name="counter"))
    models = urllib3.request("GET", f"{env.url}/api/v1/models?q=count").json()
    assert [m["id"] for m in models["models"]] == ["acme/counter"]
    version = urllib3.request("GET", f"{env.url}/api/v1/models/acme/reader/versions/1.0.0").json()
    assert {v["id"] for v in version["variants"]} == {"fp32", "int8"}
    variants = urllib3.request("GET", f"{env.url}/api/v1/models/acme/reader/versions/1.0.0/variants").json()
    assert len(variants["variants"]) == 2
    log = urllib3.request("GET", f"{env.url}/api/v1/log").json()["entries"]
    assert [e["action"] for e in log][:1] == ["add-publisher"]
    assert "acme/counter@1.0.0" in [e["subject"] for e in log]
    health = urllib3.request("GET", f"{env.url}/api/v1/health").json()
    assert health["status"] == "ok" and health["models"] == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_end_to_end_with_gunicorn(tmp_path):  # type: ignore[no-untyped-def]
    """The commands a registry admin, a publisher and an app developer type, with `edzoo serve`."""
    edzoo = [sys.executable, "-m", "registry.cli"]
    run_env = {**os.environ, "EDZOO_CACHE": str(tmp_path / "cache"), "EDZOO_KEYS": str(tmp_path / "pk")}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        p = subprocess.run([*edzoo, *args], cwd=tmp_path, env=run_env, capture_output=True, text=True, timeout=120)
        if ok:
            assert p.returncode == 0, p.stderr
        return p

    run("registry", "init", "data")
    run("keys", "new", "alice")
    run("registry", "add-publisher", "data", "edzoo", str(tmp_path / "pk" / "alice.pub.json"), "--token-file", "token")
    run("trust", "export", "--data", "data", "-o", "root.json")
    port = _free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [*edzoo, "serve", "--data", "data", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=run_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if urllib3.request("GET", url + "/api/v1/health", retries=False).status == 200:
                    break
            except urllib3.exceptions.HTTPError:
                time.sleep(0.1)
        p = run(
            "publish",
            str(HELLO),
            "--registry",
            url,
            "--key",
            str(tmp_path / "pk" / "alice.pem"),
            "--token-file",
            "token",
            "--alias",
            "stable",
        )
        assert "published edzoo/hello@" in p.stdout
        p = run("pull", "edzoo/hello@stable", "--registry", url, "--root", "root.json")
        path = Path(p.stdout.strip())
        assert path.is_file() and path.suffix == ".tflite"
        assert run("verify", str(path)).stdout.startswith("OK edzoo/hello/")
        p = run("pull", "edzoo/hello", "--registry", url, "--offline", "--json")
        assert json.loads(p.stdout)["offline"] is True
        assert "edzoo/hello/" in run("cache", "ls").stdout
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def test_client_install_needs_no_server_or_tensorflow():  # type: ignore[no-untyped-def]
    code = (
        "import sys, registry.client, registry.cli.main, registry.core.offline\n"
        # (boto3 is not checked: securesystemslib imports it, when installed, for its AWS KMS signer)
        "bad = {'flask', 'sqlalchemy', 'tensorflow', 'alembic', 'psycopg', 'werkzeug'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_the_server_reads_referenced_metadata_from_the_store_once(env, monkeypatch):  # type: ignore[no-untyped-def]
    """Versioned metadata that the served timestamp references is immutable: each process reads
    it from the store once (an S3 GET saved per request); anything else is read every time."""
    env.publish(env.build())
    registry = env.app.extensions["edzoo"]
    reads: list[str] = []
    real = registry.objects.get_bytes
    monkeypatch.setattr(registry.objects, "get_bytes", lambda key: reads.append(key) or real(key))

    def get(name: str) -> bytes:
        r = urllib3.request("GET", f"{env.url}/tuf/metadata/{name}")
        assert r.status == 200, name
        return r.data

    timestamp = json.loads(get("timestamp.json"))
    version = timestamp["signed"]["meta"]["snapshot.json"]["version"]
    snapshot = json.loads(get(f"{version}.snapshot.json"))
    role = next(f"{m['version']}.{r}" for r, m in snapshot["signed"]["meta"].items() if r.startswith("acme.bin"))
    reads.clear()
    for _ in range(3):
        get(f"{version}.snapshot.json")
        get(role)
    assert reads == [f"tuf/{role}"]  # the snapshot was read when the timestamp was served; the role once
    assert get("1.root.json") and reads[-1] == "tuf/1.root.json"  # not referenced by a snapshot: read each time
    env.publish(env.build(version="1.1.0"))
    newer = json.loads(get("timestamp.json"))["signed"]["meta"]["snapshot.json"]["version"]
    assert newer > version
    reads.clear()
    assert json.loads(get(f"{newer}.snapshot.json"))["signed"]["version"] == newer and reads == []


def test_a_remote_store_is_not_read_by_a_cold_pull_of_small_targets(env, monkeypatch):  # type: ignore[no-untyped-def]
    """With a store that has no local files (S3), a cold pull reads nothing from the store: the
    timestamp and the probe for the next root come from the index's served head, versioned
    files and targets from the snapshot the process has seen (their size is the signed length),
    and small blobs from memory."""
    env.publish(env.build())
    registry = env.app.extensions["edzoo"]
    store = registry.objects
    reads: list[str] = []
    real_open, real_size = store.open, store.size
    monkeypatch.setattr(store, "local_path", lambda key: None)  # as S3 has none
    monkeypatch.setattr(store, "open", lambda key: reads.append(key) or real_open(key))  # every read
    monkeypatch.setattr(store, "size", lambda key: reads.append(f"size {key}") or real_size(key))
    first = env.pull("acme/reader", cache="c1")
    assert first.downloaded and any(key.startswith("blobs/") for key in reads)  # the first pull read each blob once
    reads.clear()
    again = env.pull("acme/reader", cache="c2")  # a new device: a cold pull
    assert again.downloaded and Path(again.path).read_bytes() == Path(first.path).read_bytes()
    assert reads == []
    env.publish(env.build(version="1.1.0"))  # published since: served from the commit on
    reads.clear()
    assert env.pull("acme/reader@1.1.0", cache="c2").version == "1.1.0"
    assert "tuf/timestamp.json" not in reads and "tuf/2.root.json" not in reads, reads


def test_a_publish_that_fails_after_the_store_moved_is_served_with_its_index(env, monkeypatch):  # type: ignore[no-untyped-def]
    """The store's timestamp is written, then the index transaction fails. The writer catches
    up at once (indexes and serves what the store publishes); when it cannot (the database is
    down at that moment), clients keep the previous timestamp, with the index, and the
    publisher's retry of the same build makes the version pullable and searchable together."""

    def versions() -> list[str]:
        return urllib3.request("GET", f"{env.url}/api/v1/models/acme/reader").json()["versions"]

    env.publish(env.build(version="1.0.0"))
    registry = env.app.extensions["edzoo"]
    monkeypatch.setenv("EDZOO_FAULT", "publish:before-commit=enospc")
    with pytest.raises(StorageError):
        env.publish(env.build(version="1.1.0"))
    assert env.pull("acme/reader", cache="c1").version == "1.1.0" and versions() == ["1.0.0", "1.1.0"]

    served = registry.served_head()
    monkeypatch.setattr(registry, "_catch_up", lambda: None)  # as with the database down then
    build = env.build(version="1.2.0")
    with pytest.raises(StorageError):
        env.publish(build)
    monkeypatch.delenv("EDZOO_FAULT")
    assert registry.timestamp().signed.version == served.timestamp_version + 1  # the store moved
    assert registry.served_head() == served  # what clients see did not
    assert env.pull("acme/reader", cache="c2").version == "1.1.0" and versions() == ["1.0.0", "1.1.0"]
    assert env.publish(build).status == "unchanged"  # the store already holds these roles
    assert registry.served_head().timestamp_version == served.timestamp_version + 1
    assert env.pull("acme/reader", cache="c2").version == "1.2.0" and versions() == ["1.0.0", "1.1.0", "1.2.0"]


def test_the_probe_for_the_next_root_is_answered_from_the_head(env, monkeypatch):  # type: ignore[no-untyped-def]
    """Past the newest root the probe is a 404 without a store read; up to it, each root file
    is read once; a registry whose index has no head yet (made before it existed) is served
    from the store as before."""
    registry = env.app.extensions["edzoo"]
    reads: list[str] = []
    real_get = registry.objects.get_bytes
    monkeypatch.setattr(registry.objects, "get_bytes", lambda key: reads.append(key) or real_get(key))
    for _ in range(2):
        assert urllib3.request("GET", f"{env.url}/tuf/metadata/1.root.json").status == 200
        probe = urllib3.request("GET", f"{env.url}/tuf/metadata/2.root.json")
        assert probe.status == 404 and "newest root is version 1" in probe.json()["message"]
    assert reads == ["tuf/1.root.json"]
    with registry.index.writer() as session:  # as a registry made before the head existed
        session.execute(sqlalchemy.text("DELETE FROM served_head"))
    reads.clear()
    assert urllib3.request("GET", f"{env.url}/tuf/metadata/2.root.json").status == 404
    assert urllib3.request("GET", f"{env.url}/tuf/metadata/timestamp.json").status == 200
    assert reads[:2] == ["tuf/2.root.json", "tuf/timestamp.json"]
    env.publish(env.build())  # the next writer copies the head back
    assert registry.served_head() == registry._store_head()


def test_a_role_the_snapshot_does_not_list_is_named_as_data(env):  # type: ignore[no-untyped-def]
    """Offline, a path delegated to a publisher that never published (its role is not in the
    snapshot) is a RoleNotInSnapshotError naming the role: a NotFoundError, decided on its class."""
    from registry.core import keys
    from registry.core.errors import RoleNotInSnapshotError
    from registry.server import admin

    signer_path, pub_path = env.tmp / "beta.pem", env.tmp / "beta.pub.json"
    keys.save_key_pair(keys.generate(), signer_path, pub_path)
    admin.add_publisher(env.data, env.keys_dir, "beta", pub_path)  # delegated, nothing published yet
    env.publish(env.build())
    env.pull("acme/reader")
    puller = Puller(env.url, root=env.root, cache_dir=env.tmp / "cache", offline=True)
    with pytest.raises(RoleNotInSnapshotError) as e:
        puller.target_info("beta/reader/1.0.0/manifest.json")
    assert e.value.role == "beta" and isinstance(e.value, NotFoundError) and e.value.exit_code == 6
