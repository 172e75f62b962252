"""What the benchmarks share: a real `edzoo serve` on a free loopback port, waiting for it,
stopping it with its workers, and printing tables."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import urllib3


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


def stop(proc: subprocess.Popen | None) -> None:
    """Stop a process this script started in its own session (the process and its workers)."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def edzoo_command() -> list[str]:
    exe = Path(sys.executable).parent / "edzoo"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("edzoo")
    return [found] if found else [sys.executable, "-m", "registry.cli"]


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def wait_http(
    url: str, proc: subprocess.Popen, log_path: Path, what: str = "edzoo serve", timeout_s: float = 30
) -> None:
    """Wait until ``url`` answers 200, or fail with the tail of the process's log."""
    http = urllib3.PoolManager(retries=False, timeout=2.0)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"{what} exited with {proc.returncode}:\n{tail(log_path)}")
            with contextlib.suppress(urllib3.exceptions.HTTPError):
                if http.request("GET", url).status == 200:
                    return
            time.sleep(0.1)
    finally:
        http.clear()  # a kept-alive connection left open would count in a load's connections
    raise SystemExit(f"{what} did not answer {url} within {timeout_s:.0f} s:\n{tail(log_path)}")


@contextlib.contextmanager
def edzoo_server(data: Path, workdir: Path, *, workers: int = 2, threads: int = 4) -> Iterator[str]:
    """`edzoo serve` on a free port in its own session; yields its URL once healthy."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / f"serve-{port}.log"
    proc = None
    try:
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(
                [
                    *edzoo_command(),
                    "serve",
                    "--data",
                    str(data),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                    "--threads",
                    str(threads),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_http(f"{url}/api/v1/health", proc, log_path)
        yield url
    finally:
        stop(proc)


def int_list(text: str) -> list[int]:
    """An argparse type: "10,100,1000" -> [10, 100, 1000]."""
    try:
        values = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from e
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("counts must be at least 1")
    return values


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
