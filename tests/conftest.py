"""Fixtures: a real registry server on 127.0.0.1, a publisher, and a man-in-the-middle mirror."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import urllib3
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

sys.path.insert(0, str(Path(__file__).parent))

if os.environ.get("PYTEST_XDIST_WORKER"):
    # scripts/test runs two workers on two cores: one TensorFlow thread each (read before TF
    # starts) rather than two pools of two threads on two cores. Measured on a 2-core machine:
    # the suite took 27 min with one thread each, beside a third training job, and 30.5 min
    # with two threads each and no third job.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

from builders import make_build_dir  # noqa: E402

from registry.core import keys  # noqa: E402
from registry.server import ServerConfig, admin, create_app  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.WARNING)

REPO = Path(__file__).resolve().parents[1]
HELLO = REPO / "manifests" / "examples" / "hello"


class ServerThread:
    """A WSGI app served on 127.0.0.1:<free port> in a thread."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@dataclass
class Env:
    """A registry with one publisher (namespace ``acme``) and a running server."""

    tmp: Path
    data: Path
    keys_dir: Path
    url: str
    root: Path  # the root.json apps pin
    key: Path  # publisher private key
    pub: Path
    token: str
    app: object

    def build(
        self,
        name: str = "reader",
        version: str = "1.0.0",
        namespace: str = "acme",
        variants: dict[str, bytes] | None = None,
    ) -> Path:
        return make_build_dir(self.tmp / "builds" / f"{namespace}-{name}-{version}", namespace, name, version, variants)

    def publish(self, build_dir: Path, **kw):  # type: ignore[no-untyped-def]
        from registry.client import publish

        return publish(build_dir, registry=self.url, key_path=self.key, token=self.token, **kw)

    def pull(self, ref: str, cache: str = "cache", url: str | None = None, **kw):  # type: ignore[no-untyped-def]
        from registry.client import pull

        return pull(ref, registry=url or self.url, root=self.root, cache_dir=self.tmp / cache, **kw)

    def blob_file(self, sha256: str) -> Path:
        return self.data / "objects" / "blobs" / "sha256" / sha256[:2] / sha256


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    data = tmp_path / "data"
    keys_dir = tmp_path / "offline-keys"
    admin.init(data, keys_dir)
    signer = keys.generate()
    key, pub = tmp_path / "pk" / "alice.pem", tmp_path / "pk" / "alice.pub.json"
    keys.save_key_pair(signer, key, pub)
    token = admin.add_publisher(data, keys_dir, "acme", pub)
    root = tmp_path / "root.json"  # what an app ships with
    root.write_bytes((data / "objects" / "tuf" / "root.json").read_bytes())
    app = create_app({"EDZOO": ServerConfig(data_dir=data), "TESTING": True})
    server = ServerThread(app)
    try:
        yield Env(tmp_path, data, keys_dir, server.url, root, key, pub, token, app)
    finally:
        server.stop()
        app.extensions["edzoo"].close()


class Mirror:
    """A proxy in front of the registry that can rewrite any response body.

    ``tamper`` receives (path, body) and returns the body to send; by default it passes all
    through. It plays the malicious mirror, the stale CDN and the flaky network of the tests.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.tamper: Callable[[str, bytes], bytes] = lambda path, body: body
        self.http = urllib3.PoolManager()
        self.server = ServerThread(self._app)
        self.url = self.server.url

    def _app(self, environ, start_response):  # type: ignore[no-untyped-def]
        request = Request(environ)
        upstream = self.http.request(
            request.method,
            self.upstream + request.full_path.rstrip("?"),
            body=request.get_data(),
            headers={"Content-Type": request.content_type or ""},
        )
        body = self.tamper(request.path, upstream.data)
        response = Response(body, status=upstream.status, content_type=upstream.headers.get("Content-Type"))
        return response(environ, start_response)


@pytest.fixture
def mirror(env: Env) -> Iterator[Mirror]:
    m = Mirror(env.url)
    try:
        yield m
    finally:
        m.server.stop()


# -- backing services at scale: moto's S3 server and a private PostgreSQL -----------------------
def _service(factory):  # type: ignore[no-untyped-def]
    from services import ServiceUnavailable

    try:
        return factory()
    except ServiceUnavailable as e:
        if os.environ.get("CI"):
            raise  # CI installs every service (.ci/run): a missing one is a failure there
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from services import MotoS3

    server = _service(lambda: MotoS3(tmp_path_factory.mktemp("moto")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    from services import Postgres

    server = _service(Postgres)
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def s3_env(moto_s3, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """boto3 settings for moto, in this process's environment for the test."""
    env = moto_s3.env()
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first, each kept whole: under pytest-xdist a worker takes the next file
    when it is almost done with its own, so the longest builds must start at once while the quick
    files fill the other worker. A file's cost is its ``slow(minutes=N)`` mark (its measured
    minutes on one TensorFlow thread); then come the other TensorFlow files, then the rest."""

    def minutes(item: pytest.Item) -> float:
        mark = item.get_closest_marker("slow")
        return float(mark.kwargs.get("minutes", 1)) if mark else 0.0

    cost: dict[Path, float] = {}
    for item in items:
        cost[item.path] = max(cost.get(item.path, 0.0), minutes(item))
    tf = {item.path for item in items if item.get_closest_marker("tf")}
    # A stable sort on per-file keys keeps each file's tests together and in their order.
    items.sort(key=lambda item: (-cost[item.path], item.path not in tf))


def serve_timestamp(data_dir: Path, data: bytes) -> None:
    """Make a registry serve timestamp ``data`` as its own, as someone holding its online key
    and write access to its storage would: in the object store and in the index's served head."""
    from tuf.api.metadata import Metadata

    from registry.storage.index import Index
    from registry.storage.records import ServedHead

    (data_dir / "objects" / "tuf" / "timestamp.json").write_bytes(data)
    index = Index(ServerConfig.from_env(data_dir, {}).db_url)
    try:
        head = index.head()
        assert head is not None
        with index.writer() as session:
            index.set_head(session, ServedHead(data, Metadata.from_bytes(data).signed.version, head.root_version))
    finally:
        index.dispose()
