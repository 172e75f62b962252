"""A registry living through months and years in seconds: ``edzoo serve`` and ``edzoo`` commands
run under Debian's ``faketime`` (libfaketime), each at a given offset from today.

* :class:`Published`: a registry with publisher ``acme`` and one published model, built once on
  the real clock and copied for each scenario (:meth:`Published.copy`).
* :class:`Lifecycle`: one scenario's registry; ``with life.at(days=340):`` serves it under
  ``faketime -f +340d`` on a free port of 127.0.0.1 (the same port all scenario long, as a
  device knows one URL), and :meth:`Lifecycle.edzoo` runs a CLI command on the same clock.

The monotonic clock stays real (``FAKETIME_DONT_FAKE_MONOTONIC``): Python's timed waits and
gunicorn's worker heartbeat use it, and they hang or kill workers when it jumps by days. Only
the wall clock moves, which is what TUF expiry dates, python-tuf's ``Updater`` and the server's
renewals read (``datetime.now``); :func:`check_faketime` proves that it does on this machine.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import urllib3
from services import ServiceUnavailable, _tail, _wait_port, free_port

__all__ = ["Lifecycle", "Published", "check_faketime", "faketime_command"]

REF = "acme/reader@1.0.0"
_FAKE_ENV = {"FAKETIME_DONT_FAKE_MONOTONIC": "1", "PYTHONUNBUFFERED": "1"}
# libfaketime 0.9.10 shifts the absolute deadline of clock_nanosleep(CLOCK_MONOTONIC,
# TIMER_ABSTIME), Python's time.sleep, even when the monotonic clock is not faked: EINVAL. So the
# edzoo processes under faketime sleep with select(), whose timeout is relative (gunicorn's
# arbiter sleeps between spawning workers and while stopping them).
_EDZOO = (
    "import runpy, select, sys, time\n"
    "def _sleep(seconds):\n"
    "    if seconds < 0:\n"
    "        raise ValueError('sleep length must be non-negative')\n"
    "    select.select([], [], [], seconds)\n"
    "time.sleep = _sleep\n"
    "sys.argv[0] = 'edzoo'\n"
    "runpy.run_module('registry.cli', run_name='__main__', alter_sys=True)\n"
)
EDZOO = [sys.executable, "-c", _EDZOO]  # `edzoo` for a process under faketime


def _libfaketime() -> str:
    """The multi-threaded libfaketime of the Debian package."""
    found = sorted(
        glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1") + glob.glob("/usr/lib/faketime/libfaketimeMT.so.1")
    )
    if not found:
        raise ServiceUnavailable("faketime is not installed (Debian package faketime; scripts/_env.sh installs it)")
    return found[0]


def _sweep_stale_faketime_files() -> None:
    """libfaketime names a semaphore and a shared memory segment after each process id and
    fails to start ("File exists") where a killed process (a stopped server) left a pair with
    the id a new process gets; its README says to clean /dev/shm. Removes the pairs of process
    ids that no longer run."""
    for path in glob.glob("/dev/shm/faketime_shm_*") + glob.glob("/dev/shm/sem.faketime_sem_*"):
        pid = path.rsplit("_", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                os.unlink(path)
        except PermissionError:
            pass  # another user's process: running


def faketime_command(days: float, argv: list[str]) -> list[str]:
    """``argv`` run with the wall clock ``days`` ahead: the multi-threaded libfaketime preloaded
    with ``FAKETIME=+8d``, an offset that keeps ticking. Not through the ``faketime`` wrapper,
    which makes a second semaphore per command with the same stale-file failure."""
    _sweep_stale_faketime_files()
    return ["env", f"LD_PRELOAD={_libfaketime()}", f"FAKETIME={days:+g}d", *argv]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **_FAKE_ENV, **(extra or {})}


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def check_faketime(days: float = 40) -> None:
    """Raise ServiceUnavailable unless Python's ``datetime.now`` under faketime is ``days``
    ahead, and a timed wait still returns."""
    code = (
        "import threading, datetime, select; threading.Event().wait(0.05); select.select([], [], [], 0.01); "
        "print(datetime.datetime.now(datetime.UTC).timestamp())"
    )
    out = subprocess.run(
        faketime_command(days, [sys.executable, "-c", code]), env=_env(), capture_output=True, text=True, timeout=30
    )
    if out.returncode != 0:
        raise ServiceUnavailable(f"python does not run under faketime: {out.stderr.strip()}")
    ahead = (float(out.stdout) - time.time()) / 86400
    if abs(ahead - days) > 0.01:
        raise ServiceUnavailable(f"faketime +{days}d moved python's clock by {ahead:.3f} days")


@dataclass(frozen=True)
class Published:
    """A registry folder with publisher ``acme`` (key, token file) and ``acme/reader@1.0.0``,
    and the root.json an app ships with."""

    home: Path
    data: Path
    keys_dir: Path
    key: Path
    pub: Path
    token_file: Path
    root: Path

    @classmethod
    def make(cls, home: Path) -> Published:
        from builders import make_build_dir
        from werkzeug.serving import make_server

        from registry.client import publish
        from registry.core import keys
        from registry.server import ServerConfig, admin, create_app

        data, keys_dir = home / "data", home / "data-keys"
        admin.init(data, keys_dir)
        signer = keys.generate()
        key, pub = home / "pk" / "acme.pem", home / "pk" / "acme.pub.json"
        keys.save_key_pair(signer, key, pub)
        token_file = home / "acme.token"
        token_file.write_text(admin.add_publisher(data, keys_dir, "acme", pub) + "\n")
        root = home / "root.json"
        root.write_bytes((data / "objects" / "tuf" / "root.json").read_bytes())
        app = create_app({"EDZOO": ServerConfig(data_dir=data)})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            build = make_build_dir(home / "build", "acme", "reader", "1.0.0")
            publish(
                build,
                registry=f"http://127.0.0.1:{server.server_port}",
                key_path=key,
                token=token_file.read_text().strip(),
            )
        finally:
            server.shutdown()
            thread.join(5)
            app.extensions["edzoo"].close()
        return cls(home, data, keys_dir, key, pub, token_file, root)

    def copy(self, home: Path) -> Published:
        """The same registry in another folder (a scenario's own), the keys and token too."""
        shutil.copytree(self.home, home, dirs_exist_ok=True, symlinks=True)
        moved = {f: home / getattr(self, f).relative_to(self.home) for f in self.__dataclass_fields__ if f != "home"}
        return replace(self, home=home, **moved)


class Lifecycle:
    """One scenario: its registry, the URL it is served on, a device cache, and the clock."""

    def __init__(self, registry: Published) -> None:
        self.registry = registry
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cache = registry.home / "device-cache"
        self.days: float = 0
        self.log = registry.home / "serve.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._http = urllib3.PoolManager(retries=False, timeout=30)

    # -- the clock and the server ---------------------------------------------------------------
    @contextlib.contextmanager
    def at(self, days: float, *, serve: bool = True) -> Iterator[Lifecycle]:
        """Move the clock to ``days`` from today and, with ``serve``, run ``edzoo serve`` on it
        for the block."""
        if days < self.days:
            raise ValueError(f"the clock only moves forward: day {days} after day {self.days}")
        self.days = days
        if serve:
            self._start()
        try:
            yield self
        finally:
            self._stop()

    def _start(self) -> None:
        argv = [*EDZOO, "serve", "--data", str(self.registry.data)]
        argv += ["--port", str(self.port), "--workers", "1", "--threads", "4"]
        with open(self.log, "ab") as out:
            self._proc = subprocess.Popen(
                faketime_command(self.days, argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_env(),
                start_new_session=True,
            )
        _wait_port(self.port, self._proc, f"edzoo serve at day {self.days:g}", self.log)

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # The whole group at once: faketime's wrapper, gunicorn's arbiter and its workers. No
        # request is in flight between steps, and a graceful stop costs a second or two (a gthread
        # worker notices SIGTERM only at its next poll).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while _listening(self.port) and time.monotonic() < deadline:  # the arbiter exits last
            time.sleep(0.05)

    def server_log(self) -> str:
        return _tail(self.log, 40)

    # -- what people run -----------------------------------------------------------------------
    def edzoo(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``edzoo ARGS`` at the scenario's day; with ``check``, a non-zero exit fails with its
        output."""
        argv = [*EDZOO, *map(str, args)]
        out = subprocess.run(faketime_command(self.days, argv), env=_env(), capture_output=True, text=True, timeout=120)
        if check and out.returncode != 0:
            raise AssertionError(
                f"day {self.days:g}: edzoo {' '.join(map(str, args))} exited {out.returncode}:\n"
                f"{out.stdout}{out.stderr}"
            )
        return out

    def pull(self, ref: str = REF, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A device pulls ``ref`` with the root its app ships, into its own cache."""
        r = self.registry
        return self.edzoo("pull", ref, "--registry", self.url, "--root", r.root, "--cache", self.cache, check=check)

    def health(self) -> tuple[int, dict[str, Any]]:
        response = self._http.request("GET", f"{self.url}/api/v1/health")
        return response.status, json.loads(response.data)

    def registry_renew(self, *args: str) -> subprocess.CompletedProcess[str]:
        r = self.registry
        return self.edzoo("registry", "renew", r.data, "--keys", r.keys_dir, "--registry-url", self.url, *args)

    def publisher_renew(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        r = self.registry
        return self.edzoo(
            "publisher", "renew", "acme", "--registry", self.url, "--key", r.key, "--token-file", r.token_file, *args
        )

    def status(self) -> dict[str, Any]:
        out = self.edzoo("registry", "status", self.registry.data, "--json")
        doc: dict[str, Any] = json.loads(out.stdout)
        return doc
