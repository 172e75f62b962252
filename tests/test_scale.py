"""At scale: S3 blobs (moto's server), PostgreSQL metadata, several server processes sharing them,
and the faults a district meets: crashed processes, a failing object store, a restarted
database, a full disk, a retried publish. After each, the registry is consistent and nothing
published is lost."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import urllib3
from conftest import ServerThread

from registry.client import publish, pull
from registry.client.http import ClientConfig
from registry.core import keys, names
from registry.core.errors import ConflictError, DownloadError, EdzooError, SignatureError, StorageError
from registry.server import ServerConfig, admin, create_app
from registry.storage.index import Index

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Reg:
    """A registry made on some backends, with publisher ``acme``; servers are started apart."""

    tmp: Path
    data: Path
    keys_dir: Path
    root: Path
    key: Path
    token: str
    env: dict[str, str]  # what a server process needs (S3 endpoint and credentials)
    db: str | None
    blobs: str | None
    n: int = 0
    servers: list = field(default_factory=list)

    def build(self, name: str, version: str = "1.0.0", payload: bytes | None = None) -> Path:
        from builders import make_build_dir

        self.n += 1
        variants = {"fp32": payload or os.urandom(2048), "int8": os.urandom(1024)}
        return make_build_dir(self.tmp / "builds" / f"{name}-{version}-{self.n}", "acme", name, version, variants)

    def publish(self, url: str, build: Path, **kw):  # type: ignore[no-untyped-def]
        return publish(build, registry=url, key_path=self.key, token=self.token, **kw)

    def pull(self, url: str, ref: str, cache: str = "cache"):  # type: ignore[no-untyped-def]
        return pull(ref, registry=url, root=self.root, cache_dir=self.tmp / cache, variant="fp32")

    def app(self, **overrides):  # type: ignore[no-untyped-def]
        config = ServerConfig.from_env(self.data, {**os.environ, **self.env}, **overrides)
        return create_app({"EDZOO": config, "TESTING": True})

    def thread_server(self, **overrides) -> ServerThread:  # type: ignore[no-untyped-def]
        app = self.app(**overrides)
        server = ServerThread(app)
        server.app = app  # type: ignore[attr-defined]
        self.servers.append(server)
        return server

    def close(self) -> None:
        for s in self.servers:
            s.stop()
            s.app.extensions["edzoo"].close()


def _make_reg(tmp: Path, *, db: str | None, blobs: str | None, env: dict[str, str]) -> Reg:
    data, keys_dir = tmp / "data", tmp / "offline-keys"
    result = admin.init(data, keys_dir, database_url=db, blobs=blobs)
    signer = keys.generate()
    key, pub = tmp / "pk" / "acme.pem", tmp / "pk" / "acme.pub.json"
    keys.save_key_pair(signer, key, pub)
    token = admin.add_publisher(data, keys_dir, "acme", pub)
    root = tmp / "root.json"
    root.write_bytes(result.root_path.read_bytes())
    return Reg(tmp, data, keys_dir, root, key, token, env, db, blobs)


@pytest.fixture
def pg_s3(tmp_path: Path, postgres, moto_s3, s3_env) -> Iterator[Reg]:  # type: ignore[no-untyped-def]
    reg = _make_reg(tmp_path, db=postgres.create_database(), blobs=moto_s3.new_bucket_url(), env=s3_env)
    try:
        yield reg
    finally:
        reg.close()


@pytest.fixture(params=["folder+sqlite", "s3+postgresql"])
def backends(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Reg]:
    if request.param == "folder+sqlite":
        reg = _make_reg(tmp_path, db=None, blobs=None, env={})
    else:
        pg, moto = request.getfixturevalue("postgres"), request.getfixturevalue("moto_s3")
        env = request.getfixturevalue("s3_env")
        reg = _make_reg(tmp_path, db=pg.create_database(), blobs=moto.new_bucket_url(), env=env)
    try:
        yield reg
    finally:
        reg.close()


def _fp32(build: Path) -> bytes:
    return (build / "variants" / "fp32.tflite").read_bytes()


def _get(url: str, **kw) -> urllib3.BaseHTTPResponse:  # type: ignore[no-untyped-def]
    return urllib3.request("GET", url, retries=False, timeout=30, **kw)


def _timestamp_version(url: str) -> int:
    return json.loads(_get(f"{url}/tuf/metadata/timestamp.json").data)["signed"]["version"]


def _assert_consistent(reg: Reg, url: str, published: dict[str, bytes]) -> None:
    """Every published model pulls and verifies, and the index lists exactly those versions."""
    for name, payload in published.items():
        got = reg.pull(url, f"acme/{name}@1.0.0", cache=f"check-{os.urandom(3).hex()}")
        assert got.path.read_bytes() == payload, name
        doc = json.loads(_get(f"{url}/api/v1/models/acme/{name}").data)
        assert doc["versions"] == ["1.0.0"], doc
    listed = json.loads(_get(f"{url}/api/v1/models?namespace=acme&limit=500").data)
    assert sorted(m["name"] for m in listed["models"]) == sorted(published)


# -- schema ----------------------------------------------------------------------------------
def test_migrations_make_the_same_schema_on_both_engines(tmp_path: Path, postgres) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import inspect

    from registry.storage.index import schema_revision

    pg = Index(postgres.create_database())
    lite = Index(f"sqlite:///{tmp_path / 'index.sqlite'}")
    try:
        for index in (pg, lite):
            current, head = schema_revision(index.engine)
            assert current == head == "0004"
        tables = [sorted(inspect(i.engine).get_table_names()) for i in (pg, lite)]
        assert tables[0] == tables[1]
        assert {
            "publishers",
            "models",
            "versions",
            "publish_log",
            "writer_lock",
            "served_head",
            "alembic_version",
        } <= set(tables[0])
    finally:
        pg.dispose()
        lite.dispose()


def test_an_index_made_before_migrations_is_upgraded_in_place(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine, text

    from registry.storage import index as index_mod

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as conn:  # what the first release made: schema 0001, no alembic_version
        cfg = index_mod._alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("DROP TABLE alembic_version"))
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO publishers VALUES ('old', 'k', '{}', 'h', '2026-01-01 00:00:00')"),
        )
    engine.dispose()
    index = Index(url)
    try:
        assert index.publishers()[0].namespace == "old"  # the data survived
        assert index.publisher_for_token("h") == "old"  # its token became a token row
        with index.writer():
            pass  # the lock row exists
    finally:
        index.dispose()


def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    from services import free_port

    with pytest.raises(StorageError, match="unavailable|cannot open") as e:
        Index(f"postgresql://nobody@127.0.0.1:{free_port()}/nothing")
    assert "password" not in str(e.value)


# -- publish and pull on S3 + PostgreSQL --------------------------------------------------------
def test_publish_and_pull_on_s3_and_postgresql(pg_s3: Reg, moto_s3) -> None:  # type: ignore[no-untyped-def]
    server = pg_s3.thread_server()
    payload = os.urandom(300_000)
    result = pg_s3.publish(server.url, pg_s3.build("reader", payload=payload))
    assert result.status == "published"
    assert pg_s3.pull(server.url, "acme/reader").path.read_bytes() == payload
    health = json.loads(_get(f"{server.url}/api/v1/health").data)
    assert (health["blobs"], health["database"], health["versions"]) == ("s3", "postgresql", 1)
    # nothing of the registry is on the data folder's disk: only the config and online keys
    assert not (pg_s3.data / "objects" / "blobs").exists()
    assert not (pg_s3.data / "index.sqlite").exists()


def test_blob_downloads_can_redirect_to_presigned_urls(pg_s3: Reg, moto_s3) -> None:  # type: ignore[no-untyped-def]
    server = pg_s3.thread_server(redirect_blobs=True)
    payload = os.urandom(100_000)
    pg_s3.publish(server.url, pg_s3.build("reader", payload=payload))
    got = pg_s3.pull(server.url, "acme/reader")
    assert got.path.read_bytes() == payload
    sha = hashlib.sha256(payload).hexdigest()
    folder, _, file = names.target_path("acme", "reader", "1.0.0", "variants/fp32.tflite").rpartition("/")
    target = f"{server.url}/tuf/targets/{folder}/{sha}.{file}"
    response = _get(target, redirect=False)
    assert response.status == 302
    assert response.headers["Location"].startswith(moto_s3.url)
    # The bucket's copy is swapped: the redirect still leads the client to a file it rejects.
    from registry.storage.objects import S3Config, S3ObjectStore, blob_key

    store = S3ObjectStore(S3Config.from_url(pg_s3.blobs or "", {**os.environ}))
    store.put_bytes(blob_key(sha), b"\0" * len(payload))
    with pytest.raises(SignatureError):
        pg_s3.pull(server.url, "acme/reader", cache="fresh")


# -- many processes, one truth -------------------------------------------------------------------
def _serve(reg: Reg, data: Path, *, workers: int = 2, fault: str | None = None) -> tuple[subprocess.Popen, str]:
    from services import _wait_port, free_port

    port = free_port()
    env = {**os.environ, **reg.env}
    env.pop("EDZOO_FAULT", None)
    if fault:
        env["EDZOO_FAULT"] = fault
    log = data.parent / f"serve-{port}.log"
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "edzoo"), "serve", "--data", str(data), "--port", str(port)]
            + ["--workers", str(workers), "--threads", "4"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    _wait_port(port, proc, "edzoo serve", log, timeout=60)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while _get(f"{url}/api/v1/health").status != 200:  # workers booted
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return proc, url


def _stop(proc: subprocess.Popen) -> None:
    from services import _stop as stop

    stop(proc)


def test_two_servers_share_one_database_and_bucket(pg_s3: Reg) -> None:
    # Each server has its own data folder: the config and the online keys, nothing else.
    data_b = pg_s3.tmp / "data-b"
    shutil.copytree(pg_s3.data, data_b)
    a, url_a = _serve(pg_s3, pg_s3.data)
    b, url_b = _serve(pg_s3, data_b)
    seen: dict[str, list[int]] = {url_a: [], url_b: []}
    stop_polling = threading.Event()

    def poll(url: str) -> None:
        while not stop_polling.is_set():
            seen[url].append(_timestamp_version(url))

    pollers = [threading.Thread(target=poll, args=(u,)) for u in seen]
    for t in pollers:
        t.start()
    try:
        payloads = {f"m{i}": os.urandom(4096) for i in range(8)}
        builds = {name: pg_s3.build(name, payload=p) for name, p in payloads.items()}
        race = [pg_s3.build("race", payload=os.urandom(4096)) for _ in range(2)]  # same version, other bytes

        def one(job: tuple[str, Path, str]) -> str:
            _name, build, url = job
            try:
                return pg_s3.publish(url, build).status
            except ConflictError as e:
                return f"409 {e.code}"

        jobs = [(n, b, (url_a, url_b)[i % 2]) for i, (n, b) in enumerate(builds.items())]
        jobs += [("race", race[0], url_a), ("race", race[1], url_b)]
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            results = list(pool.map(one, jobs))
    finally:
        stop_polling.set()
        for t in pollers:
            t.join()
    try:
        assert results[:8] == ["published"] * 8  # different models all land
        assert sorted(results[8:]) == ["409 conflict", "published"], results  # exactly one wins
        winner = race[results[8:].index("published")]
        payloads["race"] = (winner / "variants" / "fp32.tflite").read_bytes()
        for url in (url_a, url_b):
            _assert_consistent(pg_s3, url, payloads)
        for url, versions in seen.items():  # each client sees the timestamp only move forward
            assert versions == sorted(versions), url
        log = json.loads(_get(f"{url_a}/api/v1/log?limit=1000").data)["entries"]
        snapshots = [e["detail"]["snapshot"] for e in log if e["action"] == "publish"]
        assert len(snapshots) == len(set(snapshots)) == 9  # one snapshot per publish, none repeated
        assert snapshots == sorted(snapshots)
    finally:
        _stop(a)
        _stop(b)


# -- faults ------------------------------------------------------------------------------------------
CRASH_POINTS = [
    "upload:before-store",
    "publish:after-roles",
    "publish:after-snapshot",
    "publish:before-commit",
    "publish:after-commit",
]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_server_killed_mid_publish_loses_nothing(backends: Reg, point: str) -> None:
    reg = backends
    proc, url = _serve(reg, reg.data, workers=1)
    before = {"first": os.urandom(3000)}
    try:
        reg.publish(url, reg.build("first", payload=before["first"]))
    finally:
        _stop(proc)
    crashing, url = _serve(reg, reg.data, workers=1, fault=f"{point}=kill")
    build = reg.build("second", payload=os.urandom(3000))
    try:
        with pytest.raises(DownloadError):
            reg.publish(url, build, config=ClientConfig(retries=0))
    finally:
        _stop(crashing)
    proc, url = _serve(reg, reg.data, workers=1)  # a healthy server on the same state
    try:
        if point in CRASH_POINTS[:3]:  # the crash came before the timestamp: as if never tried
            _assert_consistent(reg, url, before)
        result = reg.publish(url, build)  # the publisher retries
        # A crash after the timestamp moved means the first attempt did publish.
        expected = "unchanged" if point in {"publish:before-commit", "publish:after-commit"} else "published"
        assert result.status == expected
        _assert_consistent(reg, url, {**before, "second": _fp32(build)})
    finally:
        _stop(proc)


def test_object_store_errors_and_timeouts_change_nothing(tmp_path: Path, postgres, moto_s3, s3_env) -> None:  # type: ignore[no-untyped-def]
    from services import FaultProxy

    proxy = FaultProxy(moto_s3.url)
    env = {**s3_env, "EDZOO_S3_ENDPOINT_URL": proxy.url, "EDZOO_S3_READ_TIMEOUT": "1", "EDZOO_S3_MAX_ATTEMPTS": "1"}
    reg = _make_reg(tmp_path, db=postgres.create_database(), blobs=moto_s3.new_bucket_url(), env=env)
    try:
        server = reg.thread_server()
        payload = os.urandom(5000)
        reg.publish(server.url, reg.build("first", payload=payload))
        version = _timestamp_version(server.url)
        build = reg.build("second")
        no_retry = ClientConfig(retries=0)
        for mode in ("error", "hang"):
            proxy.mode = mode
            with pytest.raises(EdzooError) as e:
                reg.publish(server.url, build, config=no_retry)
            assert e.value.code == "unavailable", e.value
            assert "object store" in str(e.value) and "retry" in str(e.value)
            proxy.mode = "pass"
            assert _timestamp_version(server.url) == version  # nothing moved
        proxy.mode = "pass"
        assert reg.publish(server.url, build).status == "published"
        _assert_consistent(reg, server.url, {"first": payload, "second": _fp32(build)})
    finally:
        reg.close()
        proxy.stop()


def test_a_database_restart_is_survived(pg_s3: Reg, postgres) -> None:  # type: ignore[no-untyped-def]
    server = pg_s3.thread_server()
    first = os.urandom(4000)
    pg_s3.publish(server.url, pg_s3.build("first", payload=first))
    version = _timestamp_version(server.url)
    postgres.stop()
    try:
        response = _get(f"{server.url}/api/v1/models")
        assert response.status == 503
        body = json.loads(response.data)
        assert body["error"] == "unavailable" and "database" in body["message"]
        assert "Traceback" not in response.data.decode()
        build = pg_s3.build("second")
        with pytest.raises(EdzooError) as e:
            pg_s3.publish(server.url, build, config=ClientConfig(retries=0))
        assert e.value.code == "unavailable"
    finally:
        postgres.start()
    assert _timestamp_version(server.url) == version  # the refused publish changed nothing
    pg_s3.publish(server.url, build)  # the pool reconnects by itself
    _assert_consistent(pg_s3, server.url, {"first": first, "second": _fp32(build)})


def test_a_full_disk_answers_507_and_keeps_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = _make_reg(tmp_path, db=None, blobs=None, env={})
    try:
        server = reg.thread_server()
        first = os.urandom(3000)
        reg.publish(server.url, reg.build("first", payload=first))
        version = _timestamp_version(server.url)
        build = reg.build("second")
        for point in ("upload:before-store", "publish:after-roles"):
            monkeypatch.setenv("EDZOO_FAULT", f"{point}=enospc")
            with pytest.raises(StorageError) as e:
                reg.publish(server.url, build, config=ClientConfig(retries=0))
            assert e.value.code == "disk_full" and "disk" in str(e.value), e.value
            monkeypatch.delenv("EDZOO_FAULT")
            assert _timestamp_version(server.url) == version
        leftovers = list((reg.data / "objects" / ".tmp").iterdir())
        assert leftovers == []
        assert reg.publish(server.url, build).status == "published"
        _assert_consistent(reg, server.url, {"first": first, "second": _fp32(build)})
    finally:
        reg.close()


def test_a_publish_retried_after_a_timeout_is_idempotent(backends: Reg, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = backends
    server = reg.thread_server()
    build = reg.build("slow")
    monkeypatch.setenv("EDZOO_FAULT", "publish:after-commit=sleep:3")
    with pytest.raises(DownloadError):
        reg.publish(server.url, build, config=ClientConfig(timeout_s=1, retries=0))
    monkeypatch.delenv("EDZOO_FAULT")
    time.sleep(2.5)  # the first attempt completes on the server
    version = _timestamp_version(server.url)
    assert reg.publish(server.url, build).status == "unchanged"
    assert _timestamp_version(server.url) == version
    _assert_consistent(reg, server.url, {"slow": _fp32(build)})
    log = json.loads(_get(f"{server.url}/api/v1/log").data)["entries"]
    assert [e["subject"] for e in log if e["action"] == "publish"] == ["acme/slow@1.0.0"]


def test_the_online_keys_can_come_from_the_environment(tmp_path: Path) -> None:
    reg = _make_reg(tmp_path, db=None, blobs=None, env={})
    keys_dir = reg.data / "keys"
    env = {
        "EDZOO_SNAPSHOT_KEY": (keys_dir / "snapshot.pem").read_text(),
        "EDZOO_TIMESTAMP_KEY": str(tmp_path / "ts.pem"),  # a path works too
    }
    shutil.move(keys_dir / "timestamp.pem", tmp_path / "ts.pem")
    (keys_dir / "snapshot.pem").unlink()
    reg.env = env
    try:
        server = reg.thread_server()
        assert reg.publish(server.url, reg.build("reader")).status == "published"
        reg.pull(server.url, "acme/reader")
        reg.env = {"EDZOO_SNAPSHOT_KEY": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"}
        with pytest.raises(EdzooError, match="EDZOO_SNAPSHOT_KEY is not an unencrypted PEM private key"):
            reg.app()
    finally:
        reg.close()
