"""The client in the field: every failure of the disk or the network that a person meets is one
line with a remedy, a documented exit code and an EdzooError subclass, and the cache is left
as it was. A registry that cannot be reached falls back to the verified cached copy."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import urllib3
from conftest import Env, ServerThread
from werkzeug.wrappers import Request, Response

from registry.client.http import ClientConfig
from registry.core.errors import (
    DownloadError,
    EdzooError,
    NotARegistryError,
    SignatureError,
    StorageError,
    UsageError,
)

FAST = ClientConfig(timeout_s=1.0, retries=0)


def _files(root: Path) -> dict[str, bytes]:
    """Every file and link under ``root``: what a failure must leave as it was."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): (os.readlink(p).encode() if p.is_symlink() else p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() or p.is_symlink()
    }


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Silent:
    """A TCP port on 127.0.0.1 that accepts connections and never answers; counts them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.held.append(self.sock.accept()[0])

    def close(self) -> None:
        for c in self.held:
            c.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    s = Silent()
    try:
        yield s
    finally:
        s.close()


def _web_server(status: int, body: bytes, content_type: str) -> ServerThread:
    def app(environ, start_response):  # type: ignore[no-untyped-def]
        return Response(body, status=status, content_type=content_type)(environ, start_response)

    return ServerThread(app)


@pytest.fixture
def portal() -> Iterator[str]:
    """A captive portal: every URL answers 200 with its sign-in page."""
    server = _web_server(200, b"<!DOCTYPE html><html><body>Sign in to SchoolWiFi</body></html>", "text/html")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def plain() -> Iterator[str]:
    """A plain web server that holds none of the registry's files."""
    server = _web_server(404, b"<html><body>404 Not Found</body></html>", "text/html")
    try:
        yield server.url
    finally:
        server.stop()


@dataclass(frozen=True)
class Case:
    name: str
    url: Callable[[Env, dict[str, str]], str]  # (env, fixture urls) -> the registry URL to pull from
    error: type[EdzooError]
    code: str
    text: str
    exit_code: int
    fault: str = ""  # EDZOO_FAULT for the pull
    warm: bool = False  # pull once first, so the cache holds the metadata (and then fails writing)


CASES = [
    Case("refused connection", lambda e, u: f"http://127.0.0.1:{_closed_port()}", DownloadError,
         "connection_refused", "connection refused; is the registry running", 8),
    Case("timeout", lambda e, u: u["silent"], DownloadError, "timeout", "did not answer within 1 s", 8),
    Case("captive portal", lambda e, u: u["portal"], NotARegistryError, "captive_portal",
         "answered with an HTML page", 8),
    Case("plain web server", lambda e, u: u["plain"], NotARegistryError, "not_a_registry",
         "has no /tuf/metadata/timestamp.json", 8),
    Case("wrong base URL", lambda e, u: f"{e.url}/api/v1", NotARegistryError, "not_a_registry",
         "(without /api/v1? try http://127.0.0.1:", 8),
    Case("read-only cache", lambda e, u: e.url, StorageError, "read_only",
         "the file system is read-only; use a writable folder, or use another cache folder", 7,
         fault="cache:metadata=erofs", warm=True),
    Case("full cache", lambda e, u: e.url, StorageError, "disk_full",
         "the disk is full; free some space, or use another cache folder", 7, fault="cache:blob=enospc"),
]  # fmt: skip


@pytest.fixture
def urls(silent: Silent, portal: str, plain: str) -> dict[str, str]:
    return {"silent": silent.url, "portal": portal, "plain": plain}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_failure_is_its_own_error_and_changes_nothing(env, urls, case, monkeypatch):  # type: ignore[no-untyped-def]
    env.publish(env.build())
    cache = env.tmp / "cache"
    url = case.url(env, urls)
    if case.warm:
        env.pull("acme/reader", url=url)
    before = _files(cache)
    if case.fault:
        monkeypatch.setenv("EDZOO_FAULT", case.fault)
    with pytest.raises(case.error) as e:
        env.pull("acme/reader", url=url, config=FAST, fallback=False)
    assert e.value.code == case.code, e.value
    assert case.text in str(e.value) and "\n" not in str(e.value), e.value
    after = _files(cache)
    assert {k: after.get(k) for k in before} == before, "a failure changed what the cache held"
    new = set(after) - set(before)
    assert not [k for k in new if k.startswith("blobs/") or "/models/" in k], new


def test_a_disk_that_fills_during_a_download_is_a_storage_error(env, monkeypatch):  # type: ignore[no-untyped-def]
    env.publish(env.build(variants={"fp32": BIG}))
    monkeypatch.setenv("EDZOO_FAULT", "cache:write=enospc")
    with pytest.raises(StorageError) as e:
        env.pull("acme/reader", config=FAST)
    assert e.value.code == "disk_full" and "free some space, or use another cache folder" in str(e.value)
    assert not list((env.tmp / "cache" / "blobs" / "sha256").glob("*/*"))  # nothing unverified entered the cache
    monkeypatch.delenv("EDZOO_FAULT")
    assert env.pull("acme/reader").path.read_bytes() == BIG


def test_a_host_that_does_not_resolve_is_named(env, monkeypatch):  # type: ignore[no-untyped-def]
    # No DNS query may leave this machine: the resolver's answer for an unknown name is played here.
    def no_such_name(host, *args, **kw):  # type: ignore[no-untyped-def]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(DownloadError) as e:
        env.pull("acme/reader", url="http://registry.school.invalid:8000", config=FAST)
    assert e.value.code == "host_not_found"
    assert "the host name registry.school.invalid does not resolve" in str(e.value)


def test_a_cache_that_is_a_file_is_a_storage_error(env):  # type: ignore[no-untyped-def]
    env.publish(env.build())
    (env.tmp / "cache").write_text("not a folder")
    with pytest.raises(StorageError) as e:
        env.pull("acme/reader")
    assert e.value.code == "storage_error" and "writing the cache" in str(e.value)
    assert (env.tmp / "cache").read_text() == "not a folder"


def test_a_read_only_cache_still_serves_what_it_holds(env, monkeypatch):  # type: ignore[no-untyped-def]
    env.publish(env.build())
    first = env.pull("acme/reader")
    monkeypatch.setenv("EDZOO_FAULT", "cache:blob=erofs")  # any new blob would fail; the cached one is enough
    again = env.pull("acme/reader")
    assert again.path == first.path and not again.downloaded


def test_an_unreachable_registry_falls_back_to_the_verified_cache(env, mirror):  # type: ignore[no-untyped-def]
    env.publish(env.build())
    first = env.pull("acme/reader", url=mirror.url)
    assert first.fallback is None
    mirror.tamper = lambda path, body: b"<html><body>Sign in to SchoolWiFi</body></html>"
    served = env.pull("acme/reader", url=mirror.url, config=FAST)
    assert served.offline and served.path == first.path and served.sha256 == first.sha256
    assert served.fallback is not None
    assert "captive portal" in served.fallback and "metadata last refreshed 0 s ago" in served.fallback
    with pytest.raises(NotARegistryError):
        env.pull("acme/reader", url=mirror.url, config=FAST, fallback=False)
    mirror.server.stop()
    down = env.pull("acme/reader", url=mirror.url, config=FAST)
    assert down.fallback is not None and "connection refused" in down.fallback
    # a swapped file in the cache is still caught: the fallback verifies as --offline does
    blob = Path(first.blob)
    blob.chmod(0o644)
    blob.write_bytes(b"tampered")
    with pytest.raises(EdzooError) as e:
        env.pull("acme/reader", url=mirror.url, config=FAST)
    assert e.value.exit_code == 4


def _cli(env: Env, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    run_env = {**os.environ, "EDZOO_CACHE": str(env.tmp / "cli-cache"), "EDZOO_RETRIES": "0", **extra}
    run_env.pop("EDZOO_REGISTRY", None)
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", *args], env=run_env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("case", [c for c in CASES if c.name != "timeout"], ids=lambda c: c.name)
def test_the_cli_prints_one_line_and_its_exit_code(env, urls, case):  # type: ignore[no-untyped-def]
    env.publish(env.build())
    url = case.url(env, urls)
    pull_args = ["pull", "acme/reader", "--registry", url, "--root", str(env.root), "--no-fallback"]
    if case.warm:
        assert _cli(env, *pull_args).returncode == 0
    p = _cli(env, *pull_args, **({"EDZOO_FAULT": case.fault} if case.fault else {}))
    assert p.returncode == case.exit_code, p.stderr
    assert p.stderr.startswith("error: ") and p.stderr.count("\n") == 1 and case.text in p.stderr, p.stderr


def test_the_cli_falls_back_with_a_warning_and_json_says_so(env, mirror):  # type: ignore[no-untyped-def]
    env.publish(env.build())
    args = ["pull", "acme/reader", "--registry", mirror.url, "--root", str(env.root)]
    assert _cli(env, *args).returncode == 0
    mirror.server.stop()
    p = _cli(env, *args, "--json")
    assert p.returncode == 0, p.stderr
    assert p.stderr.startswith("warning: cannot reach") and "--no-fallback fails" in p.stderr
    doc = json.loads(p.stdout)
    assert doc["offline"] is True and "connection refused" in doc["fallback"]
    p = _cli(env, *args, "--no-fallback")
    assert p.returncode == 8 and "connection refused" in p.stderr


@pytest.mark.parametrize("value", ["soon", "0", "-1"])
def test_a_bad_timeout_setting_is_a_usage_error(value):  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        ClientConfig.from_env({"EDZOO_TIMEOUT": value})
    assert ClientConfig.from_env({"EDZOO_TIMEOUT": "2.5", "EDZOO_RETRIES": "1"}) == ClientConfig(
        timeout_s=2.5, retries=1
    )


def test_the_cli_reads_the_timeout_from_the_environment(env, silent):  # type: ignore[no-untyped-def]
    p = _cli(env, "pull", "acme/reader", "--registry", silent.url, "--root", str(env.root), EDZOO_TIMEOUT="0.5")
    assert p.returncode == 8 and "did not answer within 0.5 s" in p.stderr, p.stderr


@pytest.mark.parametrize("retries", [0, 2])
def test_a_silent_registry_is_tried_once_per_retry(env, silent, retries):  # type: ignore[no-untyped-def]
    with pytest.raises(DownloadError):
        env.pull("acme/reader", url=silent.url, config=ClientConfig(timeout_s=0.3, retries=retries, backoff_s=0.01))
    assert len(silent.held) == 1 + retries  # no hidden retries below ours


class KeepAlive:
    """An HTTP/1.1 server that keeps connections alive and counts them: ``/small-404`` and
    ``/big-404`` answer 404 with a small and a 100 kB body, anything else a JSON object."""

    def __init__(self) -> None:
        import http.server

        owner = self
        self.connections = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                owner.connections += 1
                super().setup()

            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                answers = {"/small-404": (404, b"{}"), "/big-404": (404, b"x" * 100_000)}
                status, body = answers.get(self.path, (200, b"{}"))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize(("missing", "connections"), [("small-404", 1), ("big-404", 2)])
def test_a_small_error_answer_keeps_its_connection(missing, connections):  # type: ignore[no-untyped-def]
    """Every refresh probes for the next root and gets a 404: its connection serves the
    timestamp request that follows, rather than a new one being opened. An error answer with a
    large body closes its connection instead of being read through."""
    from tuf.api.exceptions import DownloadHTTPError

    from registry.client.http import ProgressFetcher

    server = KeepAlive()
    fetcher = ProgressFetcher(ClientConfig(timeout_s=5))
    try:
        with pytest.raises(DownloadHTTPError):
            fetcher.download_bytes(f"{server.url}/{missing}", 1 << 20)
        assert fetcher.download_bytes(f"{server.url}/timestamp.json", 1 << 20) == b"{}"
        assert server.connections == connections
    finally:
        for pools in fetcher._proxy_env._pool_managers.values():  # the process's pools: close what this test left
            pools.clear()
        server.server.shutdown()
        server.server.server_close()


# -- resumable downloads ---------------------------------------------------------------------------


class Cutter:
    """A proxy in front of the registry that forwards ``Range`` and, while ``cut_at`` is set,
    drops the connection after that many body bytes of a target (a dropped link)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.cut_at: int | None = None
        self.ranges: list[str | None] = []  # the Range header of each target request
        self.body_bytes = 0  # target body bytes sent
        self.http = urllib3.PoolManager()
        self.server = ServerThread(self._app)
        self.url = self.server.url

    def _app(self, environ, start_response):  # type: ignore[no-untyped-def]
        request = Request(environ)
        wanted = request.headers.get("Range")
        up = self.http.request(
            "GET", self.upstream + request.full_path.rstrip("?"), headers={"Range": wanted} if wanted else {}
        )
        body = up.data
        headers = [("Content-Type", up.headers.get("Content-Type", "application/octet-stream"))]
        headers += [("Content-Length", str(len(body)))]
        if "Content-Range" in up.headers:
            headers.append(("Content-Range", up.headers["Content-Range"]))
        start_response(f"{up.status} X", headers)
        if not request.path.startswith("/tuf/targets/"):
            return [body]
        self.ranges.append(wanted)
        cut = self.cut_at

        def chunks() -> Iterator[bytes]:
            sent = body if cut is None else body[:cut]
            self.body_bytes += len(sent)
            yield sent
            if cut is not None:
                raise ConnectionAbortedError("the link dropped")  # the server closes the socket mid-body

        return chunks()


@pytest.fixture
def cutter(env: Env) -> Iterator[Cutter]:
    c = Cutter(env.url)
    try:
        yield c
    finally:
        c.server.stop()


BIG = bytes(range(256)) * 800  # 200 KiB


@pytest.fixture(params=["inline", "threaded"])
def hashing(request, monkeypatch):  # type: ignore[no-untyped-def]
    """Both ways a download is hashed: inline (small files) and on a second thread (from 4 MiB;
    here from the first byte)."""
    from registry.client import transfer

    if request.param == "threaded":
        monkeypatch.setattr(transfer._Hashing, "THREADED_FROM", 0)
    return request.param


def test_a_dropped_download_resumes_where_it_stopped(env, cutter, hashing):  # type: ignore[no-untyped-def]
    env.publish(env.build(variants={"fp32": BIG}))
    cutter.cut_at = 70_000
    with pytest.raises(DownloadError) as e:
        env.pull("acme/reader", url=cutter.url, config=FAST)
    assert "stopped at 68.4 kB of 200.0 kB" in str(e.value) and "pull again to resume" in str(e.value)
    partial = list((env.tmp / "cache" / "blobs" / "incomplete").glob("*.incomplete"))
    assert [p.stat().st_size for p in partial] == [70_000]
    cutter.cut_at, cutter.body_bytes = None, 0
    result = env.pull("acme/reader", url=cutter.url, config=FAST)
    assert result.downloaded and result.path.read_bytes() == BIG
    assert cutter.ranges[-1] == "bytes=70000-" and cutter.body_bytes == len(BIG) - 70_000
    assert not list((env.tmp / "cache" / "blobs" / "incomplete").glob("*"))


def test_a_tampered_partial_costs_one_download_never_a_bad_file(env, cutter, hashing):  # type: ignore[no-untyped-def]
    env.publish(env.build(variants={"fp32": BIG}))
    cutter.cut_at = 50_000
    with pytest.raises(DownloadError):
        env.pull("acme/reader", url=cutter.url, config=FAST)
    (partial,) = (env.tmp / "cache" / "blobs" / "incomplete").glob("*.incomplete")
    partial.write_bytes(b"x" * 50_000)  # someone wrote into the partial file
    cutter.cut_at = None
    with pytest.raises(SignatureError, match="do not match their signed length and sha256"):
        env.pull("acme/reader", url=cutter.url, config=FAST)
    assert not partial.exists()
    assert env.pull("acme/reader", url=cutter.url, config=FAST).path.read_bytes() == BIG


def test_a_registry_without_ranges_sends_the_whole_file_again(env, cutter):  # type: ignore[no-untyped-def]
    env.publish(env.build(variants={"fp32": BIG}))
    cutter.cut_at = 50_000
    with pytest.raises(DownloadError):
        env.pull("acme/reader", url=cutter.url, config=FAST)
    cutter.cut_at = None
    cutter.http.headers = {}
    upstream_request = cutter.http.request
    cutter.http.request = lambda method, url, headers=None, **kw: upstream_request(method, url, **kw)  # type: ignore[method-assign]
    assert env.pull("acme/reader", url=cutter.url, config=FAST).path.read_bytes() == BIG
    assert cutter.ranges[-1] == "bytes=50000-"  # asked for the rest, got all of it (200), kept the right bytes


def test_ctrl_c_keeps_the_partial_for_the_next_pull(env, cutter, hashing):  # type: ignore[no-untyped-def]
    env.publish(env.build(variants={"fp32": BIG}))

    class Interrupting:
        def __init__(self, desc: str, total: int) -> None:
            self.seen, self.big = 0, total == len(BIG)  # the manifest downloads in peace

        def __enter__(self) -> Interrupting:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def update(self, n: int) -> None:
            self.seen += n
            if self.big and self.seen >= 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        env.pull("acme/reader", url=cutter.url, config=ClientConfig(chunk_size=16_384), progress=Interrupting)
    (partial,) = (env.tmp / "cache" / "blobs" / "incomplete").glob("*.incomplete")
    kept = partial.stat().st_size
    assert 0 < kept < len(BIG)
    result = env.pull("acme/reader", url=cutter.url)
    assert result.path.read_bytes() == BIG and cutter.ranges[-1] == f"bytes={kept}-"


def test_a_log_gets_progress_lines_for_a_large_file(env):  # type: ignore[no-untyped-def]
    data = bytes(range(256)) * (9 << 10)  # 2.25 MiB
    env.publish(env.build(variants={"fp32": data}))
    p = _cli(env, "pull", "acme/reader", "--registry", env.url, "--root", str(env.root))
    assert p.returncode == 0, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.startswith("fp32.tflite: ")]
    assert lines[-1] == "fp32.tflite: 2.2 MB of 2.2 MB (100%)" and 2 <= len(lines) <= 11, p.stderr
    assert "\r" not in p.stderr  # no terminal bar in a log


# -- warm pulls: a verified blob is trusted by how it looks on disk until it changes ----------------


def test_a_warm_pull_trusts_an_unchanged_blob_and_notices_a_swapped_one(env, monkeypatch):  # type: ignore[no-untyped-def]
    from registry.client import cache as cache_module

    env.publish(env.build(variants={"fp32": BIG}))
    first = env.pull("acme/reader")
    hashed: list[Path] = []
    real = cache_module.sha256_file
    monkeypatch.setattr(cache_module, "sha256_file", lambda p, *a, **k: hashed.append(Path(p)) or real(p, *a, **k))
    again = env.pull("acme/reader")
    assert not again.downloaded and hashed == []  # unchanged since it was verified: not hashed again
    # swap the blob for another file of the same size (a new inode): hashed, refused, downloaded again
    blob = Path(first.blob)
    swapped = blob.with_name("swapped")
    swapped.write_bytes(b"\0" * len(BIG))
    os.replace(swapped, blob)
    third = env.pull("acme/reader")
    assert hashed and third.downloaded and Path(third.path).read_bytes() == BIG


def test_the_api_client_does_not_back_off_from_a_refused_connection(monkeypatch):  # type: ignore[no-untyped-def]
    """Publishing, search and the catalog use the API client: a registry that is not running
    is named at once, with no retries slept through (a timeout still retries)."""
    from urllib3.util import retry

    from registry.client.http import ApiClient

    slept: list[float] = []
    monkeypatch.setattr(retry.time, "sleep", slept.append)
    client = ApiClient(f"http://127.0.0.1:{_closed_port()}", config=ClientConfig(retries=3, backoff_s=0.5))
    with pytest.raises(DownloadError) as e:
        client.get_json("/models")
    assert e.value.code == "connection_refused" and slept == []


def test_a_warm_pull_rewrites_neither_the_root_nor_a_fresh_refresh_record(env):  # type: ignore[no-untyped-def]
    env.publish(env.build(variants={"fp32": BIG}))
    env.pull("acme/reader")
    (reg,) = (env.tmp / "cache" / "registries").iterdir()
    root, record = reg / "metadata" / "root_history" / "1.root.json", reg / "refreshed.json"
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (root, record)}
    env.pull("acme/reader")
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (root, record)} == before
    old = record.stat().st_mtime - 120  # a record two minutes old is written again
    os.utime(record, (old, old))
    env.pull("acme/reader")
    assert record.stat().st_mtime > old + 100 and json.loads(record.read_text())["refreshed"].endswith("Z")


def test_an_emptied_registry_record_is_written_again(env):  # type: ignore[no-untyped-def]
    """registry.json is not fsync'ed (the cache rebuilds it): after a power cut left it empty,
    the next pull writes it again, and the registry is listed as before."""
    from registry.client.cache import Cache

    env.publish(env.build(variants={"fp32": BIG}))
    env.pull("acme/reader")
    cache = Cache(env.tmp / "cache")
    (record,) = (env.tmp / "cache" / "registries").glob("*/registry.json")
    record.write_bytes(b"")
    assert cache.registries() == []
    env.pull("acme/reader")
    assert [r.url for r in cache.registries()] == [env.url]
