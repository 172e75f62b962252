"""Real backing services on 127.0.0.1 for tests and benchmarks: moto's S3 server and a
PostgreSQL cluster of our own, each in a child process on a free port.

PostgreSQL: Debian's ``postgresql`` package provides the binaries (``.ci/run`` installs it);
the cluster lives in a temp folder with trust authentication on loopback only, so tests can
create databases and restart the server at will. As root, the server runs as the ``postgres``
user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "edzoo-test",
    "AWS_SECRET_ACCESS_KEY": "edzoo-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class ServiceUnavailable(RuntimeError):
    """The service cannot run on this machine (its program is not installed)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, what: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f} s:\n{_tail(log)}")


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


class MotoS3:
    """``moto_server`` (moto's S3 implementation over real HTTP) on a free loopback port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "moto.log"
        workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **S3_ENV},
                start_new_session=True,
            )
        _wait_port(self.port, self.proc, "moto_server", self.log)

    def env(self) -> dict[str, str]:
        """What an edzoo process needs to use this server."""
        return {**S3_ENV, "EDZOO_S3_ENDPOINT_URL": self.url}

    def new_bucket_url(self, prefix: str = "edzoo") -> str:
        """A fresh ``s3://`` location (edzoo creates the bucket on first use)."""
        return f"s3://test-{uuid.uuid4().hex[:12]}/{prefix}"

    def stop(self) -> None:
        _stop(self.proc)


class Postgres:
    """A private PostgreSQL cluster: ``initdb`` into a temp folder, ``pg_ctl`` to start,
    stop and restart it, ``trust`` authentication for loopback connections."""

    def __init__(self) -> None:
        bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
        if not bindirs:
            raise ServiceUnavailable("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        self.bin = Path(bindirs[-1])
        # Its own folder right under /tmp: the server's user must be able to reach it.
        workdir = Path(tempfile.mkdtemp(prefix="edzoo-pg-"))
        self.workdir = workdir
        self.dir = workdir / "pgdata"
        self.sock = workdir / "pgsock"
        self.log = workdir / "postgres.log"
        self.port = free_port()
        self.user = "edzoo"
        workdir.mkdir(parents=True, exist_ok=True)
        self.sock.mkdir(exist_ok=True)
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(workdir, "postgres")
            shutil.chown(self.sock, "postgres")
        self._run(
            [str(self.bin / "initdb"), "-D", str(self.dir), "-U", self.user, "-A", "trust", "--no-sync", "-E", "UTF8"],
        )
        with open(self.dir / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.sock}'\n"
                "fsync = off\nmax_connections = 200\n"
            )
        self.start()

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        if self._as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}\n{_tail(self.log)}")
        return result

    def start(self) -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.dir), "-l", str(self.log), "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", mode, "-w", "stop"], check=False)

    def destroy(self) -> None:
        """Stop the server and delete the cluster."""
        self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)

    def restart(self) -> None:
        """Stop the server (dropping every connection) and start it again."""
        self.stop("fast")
        self.start()

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self._run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name])
        return self.url(name)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


class FaultProxy:
    """An HTTP proxy on loopback in front of a service (moto's S3), that can be told to fail:
    ``mode = "pass"`` forwards, ``"error"`` answers 500 InternalError without forwarding,
    ``"hang"`` holds each request for ``hang_s`` seconds (longer than the client's timeout)."""

    def __init__(self, upstream: str) -> None:
        import http.server
        import threading

        import urllib3

        self.upstream = upstream.rstrip("/")
        self.mode = "pass"
        self.hang_s = 5.0
        self.requests = 0
        http_pool = urllib3.PoolManager(retries=False)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                proxy.requests += 1
                body = self._body()
                if proxy.mode == "hang":
                    time.sleep(proxy.hang_s)
                if proxy.mode == "error":
                    payload = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                    self.send_response(500)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"transfer-encoding"}}
                headers["Content-Length"] = str(len(body))
                r = http_pool.request(
                    self.command, proxy.upstream + self.path, body=body, headers=headers, redirect=False
                )
                self.send_response(r.status)
                for k, v in r.headers.items():
                    if k.lower() not in {"transfer-encoding", "content-length", "connection", "server", "date"}:
                        self.send_header(k, v)
                data = r.data if self.command != "HEAD" else b""
                self.send_header("Content-Length", r.headers.get("Content-Length", str(len(data))))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
